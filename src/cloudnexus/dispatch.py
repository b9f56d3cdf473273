"""The dispatcher function on AWS (`main.dispatch`): what `cloudnexus serve`'s delivery
thread does, run by its queue and a schedule instead of a loop.

Its queue (an SQS queue with a dead-letter queue, deploy/template.yaml) carries two kinds of
message: the nudge the API sends after a commit that wrote events (events/queue.py), and
S3's ObjectCreated notifications of the bucket's object prefixes, each of which completes
the pending single-PUT upload of that object with every check of complete
(uploads/arrivals.py, the same service call as the local backend's PUT). Whatever woke it,
the function then delivers what is due: it queues every webhook's new events, sends them,
and goes on while more are due and its time lasts. A retry due within SQS's 15 minutes of
delay is nudged for, delayed; the EventBridge schedule (the sweep, every minute) delivers
whatever a lost nudge left behind.

A message that failed (the database or storage unreachable) is reported back as a batch item
failure: SQS offers it again, and after the queue's maxReceiveCount keeps it in the
dead-letter queue."""

from __future__ import annotations

import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

from cloudnexus.runtime import Runtime
from cloudnexus.storage.keys import PRIVATE_PREFIX, PUBLIC_PREFIX

logger = logging.getLogger("cloudnexus.dispatch")
# A round of sends lasts at most WEBHOOK_TIMEOUT; another starts only with this much more
# of the invocation's time left.
MARGIN_SECONDS = 5.0
# Another look, this much later, when the newest event is held back behind an older
# transaction still running (docs/events.md: the horizon), rather than at the next sweep.
# Only for a minute: behind a transaction left open longer, the sweep takes over (no nudge
# wakes the function every few seconds for as long as that lasts).
HELD_BACK_SECONDS, HELD_BACK_FOR = 2, timedelta(minutes=1)
_PUT = "ObjectCreated:Put"  # a single PUT; multipart uploads are completed by their clients


def is_sqs_batch(event: Any) -> bool:
    return isinstance(event, dict) and isinstance(event.get("Records"), list) and all(
        isinstance(record, dict) and record.get("eventSource") == "aws:sqs"
        for record in event["Records"])


def handle(runtime: Runtime, event: Any, context: Any) -> dict[str, Any]:
    """One invocation: an SQS batch (nudges, S3 notifications) or the sweep's schedule."""
    failures: list[dict[str, str]] = []
    completed = 0
    if is_sqs_batch(event):
        for message in event["Records"]:
            try:
                completed += _take(runtime, message)
            except Exception:  # offered again by SQS, then dead-lettered
                logger.exception("a queue message failed", extra={
                    "message_id": message.get("messageId")})
                failures.append({"itemIdentifier": str(message.get("messageId"))})
    attempts = deliver(runtime, context)
    logger.info("dispatched", extra={"uploads_completed": completed,
                                     "delivery_attempts": attempts,
                                     "failed_messages": len(failures)})
    return {"batchItemFailures": failures}


def _take(runtime: Runtime, message: dict[str, Any]) -> int:
    """Complete the uploads an S3 notification names; a nudge needs nothing more. How many
    uploads it completed."""
    from cloudnexus.uploads.arrivals import complete_stored

    keys = stored_keys(message.get("body", ""), bucket=runtime.settings.s3_bucket)
    return sum(complete_stored(runtime, key) for key in keys)


def stored_keys(body: str, *, bucket: str | None) -> list[str]:
    """The object keys of an S3 notification's ObjectCreated:Put records of `bucket`, under
    the prefixes storage/keys.py makes; [] for a nudge, S3's s3:TestEvent or anything else.
    (A notification only wakes the check: complete reads the object from our bucket.)"""
    try:
        notification = json.loads(body)
    except ValueError:
        logger.warning("a queue message that is not JSON was ignored")
        return []
    records = notification.get("Records") if isinstance(notification, dict) else None
    keys = []
    for record in records if isinstance(records, list) else []:
        if not (isinstance(record, dict) and record.get("eventSource") == "aws:s3"
                and record.get("eventName") == _PUT):
            continue
        s3 = record.get("s3", {})
        if s3.get("bucket", {}).get("name") != bucket:
            continue
        # S3 sends the key URL-encoded, a space as "+" (as a form would).
        key = unquote_plus(str(s3.get("object", {}).get("key", "")))
        if key.startswith((PRIVATE_PREFIX, PUBLIC_PREFIX)):
            keys.append(key)
    return keys


def deliver(runtime: Runtime, context: Any) -> int:
    """Send what is due, round after round while some was sent and time is left; then nudge
    the queue, delayed: for the newest event when it is held back behind an older
    transaction, else for the next retry due within SQS's longest delay (or at once, when
    time ran out with more to send). How many attempts were made."""
    from cloudnexus.db.columns import utcnow
    from cloudnexus.events import dispatcher, outbox, queue

    settings = runtime.settings
    attempts, more = 0, False
    with ThreadPoolExecutor(dispatcher.SENDERS, thread_name_prefix="webhook-send") as pool:
        while True:
            sent = dispatcher.run_once(runtime.session_factory, settings, pool=pool)
            attempts += sent
            if not sent:
                break
            if _seconds_left(context) < settings.webhook_timeout + MARGIN_SECONDS:
                more = True
                break
    if more:
        queue.nudge(settings)
        return attempts
    with runtime.session_factory() as db:
        due = dispatcher.next_due(db)
        held_back = outbox.newest_held_back(db, written_after=utcnow() - HELD_BACK_FOR)
    if held_back:
        queue.nudge(settings, delay_seconds=HELD_BACK_SECONDS)
    elif due is not None:
        wait = math.ceil((due - utcnow()).total_seconds())
        # Not for one already due that this round could not claim: the sweep takes it, where
        # a nudge could wake the function again and again for it.
        if 0 < wait <= queue.MAX_DELAY_SECONDS:
            queue.nudge(settings, delay_seconds=wait)
    return attempts


def _seconds_left(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return math.inf if remaining is None else remaining() / 1000
