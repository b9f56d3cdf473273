"""Webhooks of a workspace: save (address checked), change, rotate the secret, replay."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloudnexus.config import Settings
from cloudnexus.db.columns import utcnow
from cloudnexus.errors import NotFound, ValidationFailed
from cloudnexus.events.addresses import AddressRefused, check_url, resolve
from cloudnexus.events.models import Event, Webhook, WebhookDelivery, WebhookTask
from cloudnexus.events.types import matches

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not one
SECRET_BYTES = 32
ROTATION_OVERLAP = timedelta(hours=24)  # the old secret signs beside the new one this long
DELIVERIES_SHOWN = 100


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_address(url: str, settings: Settings) -> None:
    """422 when deliveries could not go to `url` (scheme, or an internal address)."""
    try:
        host, port = check_url(url, allow_http=settings.webhook_allow_http)
        resolve(host, port, allow_private=settings.webhook_allow_private)
    except AddressRefused as refused:
        message = f"The webhook URL {refused}"
        raise ValidationFailed(message, details=[
            {"loc": ["body", "url"], "message": message, "type": "value_error"}]) from None


def create(db: Session, settings: Settings, *, workspace_id: uuid.UUID, url: str,
           events: list[str], description: str | None) -> tuple[Webhook, str]:
    """A new webhook and its secret (shown once); it receives events from now on."""
    from cloudnexus.events import outbox

    check_address(url, settings)
    secret = new_secret()
    webhook = Webhook(workspace_id=workspace_id, url=url, events=events,
                      description=description, secret=secret, disabled=False,
                      cursor=outbox.latest_cursor(db))
    db.add(webhook)
    db.commit()
    return webhook, secret


def get(db: Session, *, workspace_id: uuid.UUID, webhook_id: uuid.UUID) -> Webhook:
    webhook = db.get(Webhook, webhook_id)
    if webhook is None or webhook.workspace_id != workspace_id:
        raise NotFound("Webhook not found")
    return webhook


def list_webhooks(db: Session, *, workspace_id: uuid.UUID) -> list[Webhook]:
    query = select(Webhook).where(Webhook.workspace_id == workspace_id)
    return [*db.scalars(query.order_by(Webhook.created_at, Webhook.id))]


def update(db: Session, settings: Settings, *, webhook: Webhook,
           changes: dict[str, Any]) -> Webhook:
    """Apply the fields given (null leaves one as it is; the description may be cleared)."""
    if changes.get("url") is not None:
        check_address(changes["url"], settings)
    for field, value in changes.items():
        if value is not None or field == "description":
            setattr(webhook, field, value)
    if changes.get("disabled") is False:
        webhook.failing_since, webhook.failed_events = None, 0
    db.commit()
    return webhook


def delete(db: Session, *, webhook: Webhook) -> None:
    db.delete(webhook)
    db.commit()


def rotate_secret(db: Session, *, webhook: Webhook) -> str:
    """A new secret; the old one keeps signing beside it for ROTATION_OVERLAP."""
    secret = new_secret()
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    webhook.secret = secret
    db.commit()
    return secret


def signing_secrets(webhook: Webhook, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and a rotated one in overlap."""
    live = [webhook.secret]
    if (webhook.previous_secret and webhook.previous_secret_expires_at
            and webhook.previous_secret_expires_at > now):
        live.append(webhook.previous_secret)
    return live


def deliveries(db: Session, *, webhook: Webhook) -> list[WebhookDelivery]:
    """The latest attempts, newest first."""
    query = (select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
             .order_by(WebhookDelivery.created_at.desc()).limit(DELIVERIES_SHOWN))
    return [*db.scalars(query)]


def replay(db: Session, *, webhook: Webhook, since: datetime) -> int:
    """Queue again every event it subscribes to since `since` (those still kept)."""
    query = (select(Event.seq, Event.type)
             .where(Event.workspace_id == webhook.workspace_id, Event.created_at >= since)
             .order_by(Event.xid, Event.seq))
    chosen = [seq for seq, type_ in db.execute(query) if subscribed(webhook, type_)]
    db.add_all(WebhookTask(webhook_id=webhook.id, event_seq=seq) for seq in chosen)
    db.commit()
    return len(chosen)


def subscribed(webhook: Webhook, type_: str) -> bool:
    return any(matches(pattern, type_) for pattern in webhook.events)
