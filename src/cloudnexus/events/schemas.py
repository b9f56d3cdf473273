"""Events as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from cloudnexus.schemas import Model, Schema, StorableText

if TYPE_CHECKING:
    from cloudnexus.events.models import Event, Webhook, WebhookDelivery


class EventOut(Model):
    id: uuid.UUID
    type: str
    created_at: datetime
    data: dict[str, Any]

    @classmethod
    def from_model(cls, event: Event) -> EventOut:
        return cls(id=event.id, type=event.type, created_at=event.created_at, data=event.data)


class EventPage(Model):
    items: list[EventOut]
    next_cursor: str | None


def _event_patterns(patterns: list[str]) -> list[str]:
    from cloudnexus.events.types import matches_any

    for pattern in patterns:
        if not matches_any(pattern):
            raise ValueError(f"'{pattern}' names no event type")
    return list(dict.fromkeys(patterns))


EventPatterns = Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=32)]],
                          Field(min_length=1, max_length=20), AfterValidator(_event_patterns)]
WebhookUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Description = Annotated[StorableText, StringConstraints(max_length=500)]


class WebhookCreate(Schema):
    url: WebhookUrl
    events: EventPatterns = Field(default_factory=lambda: ["*"],
                                  description="Types or families (file.*); default all")
    description: Description | None = None


class WebhookUpdate(Schema):
    """Only the fields given change."""

    url: WebhookUrl | None = None
    events: EventPatterns | None = None
    description: Description | None = None
    disabled: bool | None = None


class WebhookOut(Model):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    secret: str | None = Field(None, description="Shown only when the webhook is created")
    disabled: bool
    created_at: datetime

    @classmethod
    def from_model(cls, webhook: Webhook, *, secret: str | None = None) -> WebhookOut:
        return cls(id=webhook.id, url=webhook.url, events=webhook.events,
                   description=webhook.description, secret=secret,
                   disabled=webhook.disabled, created_at=webhook.created_at)


class WebhookList(Model):
    items: list[WebhookOut]


class SecretOut(Model):
    secret: str


class DeliveryOut(Model):
    id: uuid.UUID
    event_id: uuid.UUID
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int
    created_at: datetime

    @classmethod
    def from_model(cls, delivery: WebhookDelivery) -> DeliveryOut:
        return cls(id=delivery.id, event_id=delivery.event_id, attempt=delivery.attempt,
                   status_code=delivery.status_code, error=delivery.error,
                   duration_ms=delivery.duration_ms, created_at=delivery.created_at)


class DeliveryList(Model):
    items: list[DeliveryOut]


class Replay(Schema):
    since: datetime


class Queued(Model):
    queued: int
