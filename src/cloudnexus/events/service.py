"""Reading a workspace's events: the filters of GET /v1/events."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from cloudnexus.errors import ValidationFailed
from cloudnexus.events import outbox
from cloudnexus.events.schemas import EventOut, EventPage
from cloudnexus.events.types import EVENT_TYPES, matches


def event_types(patterns: str | None) -> list[str] | None:
    """The types a comma-separated filter names: exact types, or `file.*` for a family."""
    if not patterns:
        return None
    chosen: list[str] = []
    for pattern in (item.strip() for item in patterns.split(",")):
        named = [type_ for type_ in EVENT_TYPES if matches(pattern, type_)]
        if not named:
            message = f"Unknown event type '{pattern}'; one of {', '.join(EVENT_TYPES)}"
            raise ValidationFailed(message, details=[
                {"loc": ["query", "type"], "message": message, "type": "value_error"}])
        chosen.extend(named)
    return list(dict.fromkeys(chosen))


def list_events(db: Session, *, workspace_id: uuid.UUID, after: str | None, type_: str | None,
                limit: int) -> EventPage:
    events, cursor = outbox.page(db, workspace_id=workspace_id, after=after,
                                 types=event_types(type_), limit=limit)
    return EventPage(items=[EventOut.from_model(event) for event in events], next_cursor=cursor)
