"""Delivering the outbox to webhooks: queue each webhook's new events, send those due,
retry with backoff, log every attempt, give up and disable.

Each step is a short transaction of its own; no transaction is open while a receiver is
being waited for (on SQLite that would hold every writer of the process)."""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloudnexus.config import Settings
from cloudnexus.db.columns import utcnow
from cloudnexus.events import outbox, webhooks
from cloudnexus.events.delivery import Outcome, send
from cloudnexus.events.models import Event, Webhook, WebhookDelivery, WebhookTask
from cloudnexus.events.schemas import EventOut

logger = logging.getLogger("cloudnexus.webhooks")
# Seconds before each retry: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then given up.
SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.2  # each wait is its step times 1 ± this
LEASE = timedelta(minutes=5)  # a claimed task is tried again after this if its sender died
DISABLE_AFTER_EVENTS = 100
DISABLE_AFTER = timedelta(days=5)
BATCH = 50
SENDERS = 8
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Claimed:
    """A task taken for sending, with what the send needs (read in the claiming transaction)."""

    task_id: uuid.UUID
    webhook_id: uuid.UUID
    attempt: int
    url: str
    secrets: list[str]
    event_id: str
    body: bytes


def collect(db: Session) -> int:
    """Queue, for every enabled webhook, the events it subscribes to since its cursor."""
    queued, now = 0, utcnow()
    hooks = select(Webhook).where(Webhook.disabled.is_(False)).with_for_update(skip_locked=True)
    for webhook in db.scalars(hooks).all():
        while True:
            events, cursor = outbox.page(db, workspace_id=webhook.workspace_id,
                                         after=webhook.cursor, types=None, limit=1000)
            chosen = [event for event in events if webhooks.subscribed(webhook, event.type)]
            db.add_all(WebhookTask(webhook_id=webhook.id, event_seq=event.seq, next_at=now)
                       for event in chosen)
            queued += len(chosen)
            webhook.cursor = cursor
            if len(events) < 1000:
                break
    db.commit()
    return queued


def claim(db: Session, *, now: datetime) -> list[Claimed]:
    """Take the due tasks of enabled webhooks for LEASE, and read what sending them needs."""
    due = (select(WebhookTask, Webhook, Event)
           .join(Webhook, Webhook.id == WebhookTask.webhook_id)
           .join(Event, Event.seq == WebhookTask.event_seq)
           .where(WebhookTask.next_at <= now, Webhook.disabled.is_(False))
           .order_by(WebhookTask.next_at).limit(BATCH)
           .with_for_update(of=WebhookTask, skip_locked=True))
    claimed = []
    for task, webhook, event in db.execute(due).all():
        task.next_at = now + LEASE
        body = json.dumps(EventOut.from_model(event).model_dump(mode="json"),
                          separators=(",", ":")).encode()
        claimed.append(Claimed(task_id=task.id, webhook_id=webhook.id,
                               attempt=task.attempts + 1, url=webhook.url,
                               secrets=webhooks.signing_secrets(webhook, now),
                               event_id=str(event.id), body=body))
    db.commit()
    return claimed


def record(db: Session, claimed: Claimed, outcome: Outcome, *,
           schedule: Sequence[float] = SCHEDULE) -> None:
    """Log the attempt; then done, retried later, or given up (and the webhook disabled once
    its failures have lasted long enough)."""
    now = utcnow()
    db.add(WebhookDelivery(webhook_id=claimed.webhook_id, event_id=uuid.UUID(claimed.event_id),
                           attempt=claimed.attempt, status_code=outcome.status_code,
                           error=outcome.error, duration_ms=outcome.duration_ms,
                           created_at=now))
    task, webhook = db.get(WebhookTask, claimed.task_id), db.get(Webhook, claimed.webhook_id)
    if task is None or webhook is None:  # deleted meanwhile
        db.commit()
        return
    if outcome.delivered:
        db.delete(task)
        webhook.failing_since, webhook.failed_events = None, 0
    else:
        webhook.failing_since = webhook.failing_since or now
        if claimed.attempt > len(schedule):
            logger.warning("webhook delivery given up", extra={
                "webhook_id": str(webhook.id), "event_id": claimed.event_id,
                "attempts": claimed.attempt, "error": outcome.error})
            db.delete(task)
            webhook.failed_events += 1
        else:
            task.attempts = claimed.attempt
            wait = schedule[claimed.attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - spreading retries, no secret
            task.next_at = now + timedelta(seconds=wait)
        if (webhook.failed_events >= DISABLE_AFTER_EVENTS
                or now - webhook.failing_since >= DISABLE_AFTER):
            logger.warning("webhook disabled after failing", extra={
                "webhook_id": str(webhook.id), "failed_events": webhook.failed_events})
            webhook.disabled = True
    db.commit()


def next_due(db: Session) -> datetime | None:
    """When the earliest task of an enabled webhook is due (None: nothing is queued)."""
    query = (select(func.min(WebhookTask.next_at))
             .join(Webhook, Webhook.id == WebhookTask.webhook_id)
             .where(Webhook.disabled.is_(False)))
    due: datetime | None = db.scalar(query)
    return due


def run_once(sessions: sessionmaker[Session], settings: Settings, *,
             schedule: Sequence[float] = SCHEDULE, pool: ThreadPoolExecutor | None = None) -> int:
    """Queue what is new, send what is due; how many attempts were made."""
    with sessions() as db:
        collect(db)
        claimed = claim(db, now=utcnow())
    if not claimed:
        return 0

    def attempt(item: Claimed) -> tuple[Claimed, Outcome]:
        return item, send(item.url, msg_id=item.event_id, body=item.body, secrets=item.secrets,
                          timeout=settings.webhook_timeout,
                          allow_http=settings.webhook_allow_http,
                          allow_private=settings.webhook_allow_private)

    if pool is None:
        results = [attempt(item) for item in claimed]
    else:
        results = list(pool.map(attempt, claimed))
    with sessions() as db:
        for item, outcome in results:
            record(db, item, outcome, schedule=schedule)
    return len(results)


class Dispatcher:
    """The delivery loop of `cloudnexus serve`: a thread that polls every POLL_SECONDS."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, *,
                 schedule: Sequence[float] = SCHEDULE, poll_seconds: float = POLL_SECONDS
                 ) -> None:
        self._sessions, self._settings, self._schedule = sessions, settings, schedule
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with ThreadPoolExecutor(SENDERS, thread_name_prefix="webhook-send") as pool:
            while not self._stop.is_set():
                try:
                    sent = run_once(self._sessions, self._settings, schedule=self._schedule,
                                    pool=pool)
                except Exception:
                    logger.exception("webhook dispatch failed; trying again")
                    sent = 0
                if not sent:
                    self._stop.wait(self._poll)
