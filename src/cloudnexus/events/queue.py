"""The dispatcher's queue on AWS (EVENTS_QUEUE_URL): a commit that wrote events sends it a
small message, the nudge, so the dispatcher function delivers them within seconds; the
dispatcher sends itself a delayed one for a retry due soon.

A nudge is best effort: one attempt with short timeouts, and a failure is logged, never
raised (the change is committed and its event kept; the dispatcher's scheduled sweep
delivers what a lost nudge left behind). docs/events.md says why this is enough."""

from __future__ import annotations

import functools
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import event
from sqlalchemy.orm import Session

from cloudnexus.config import Settings

logger = logging.getLogger("cloudnexus.events")
NUDGE = json.dumps({"cloudnexus": "events"})
MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds
_PENDING = "cloudnexus.nudge"  # Session.info: the settings to nudge with after this commit


def nudge_after_commit(db: Session, settings: Settings) -> None:
    """Nudge the dispatcher once `db`'s transaction commits (not if it rolls back)."""
    _listening()
    db.info[_PENDING] = settings


def nudge(settings: Settings, *, delay_seconds: int = 0) -> bool:
    """Send the dispatcher a nudge; False (logged) when it could not be sent."""
    if settings.events_queue_url is None:
        return False
    queue_url = str(settings.events_queue_url)
    try:
        _client(queue_url, settings.aws_region).send_message(
            QueueUrl=queue_url, MessageBody=NUDGE,
            DelaySeconds=max(0, min(MAX_DELAY_SECONDS, delay_seconds)))
    except (BotoCoreError, ClientError) as exc:  # the sweep delivers what this would hasten
        logger.warning("the dispatcher could not be nudged: %s", type(exc).__name__)
        return False
    return True


@functools.cache
def _client(queue_url: str, region: str) -> Any:
    """One SQS client per process, at the queue's own host (AWS's regional endpoint, or an
    SQS-compatible server's), with one short attempt: a request does not wait on a nudge."""
    parts = urlsplit(queue_url)
    config = Config(region_name=region, connect_timeout=1, read_timeout=2,
                    retries={"mode": "standard", "total_max_attempts": 1})
    return boto3.session.Session().client("sqs", endpoint_url=f"{parts.scheme}://{parts.netloc}",
                                          config=config)


@functools.cache
def _listening() -> None:
    """Listen, once per process, to every session's commit and rollback."""
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_rollback", _after_rollback)


def _after_commit(db: Session) -> None:
    settings = db.info.pop(_PENDING, None)
    if settings is None:
        return
    try:
        nudge(settings)
    except Exception:  # raised out of commit(), it would fail a request whose change is made
        logger.warning("the dispatcher could not be nudged", exc_info=True)


def _after_rollback(db: Session) -> None:
    db.info.pop(_PENDING, None)
