"""Writing events beside the change they describe, and reading them back in cursor order.

docs/events.md explains why a client following the cursor sees each event exactly once."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CTE,
    Insert,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session

from cloudnexus.db.columns import new_id, utcnow
from cloudnexus.errors import BadRequest
from cloudnexus.events.models import CURRENT_XID, Event

# Transactions older than this have all ended (committed or rolled back), on PostgreSQL.
_HORIZON = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
LAST_SEQ = 2**63 - 1


def emit(db: Session, *, workspace_id: uuid.UUID, type_: str,
         data: dict[str, Any]) -> uuid.UUID:
    """Write an event into the session's transaction (at once, one prebuilt statement: no
    unit of work for it at the commit); it commits, or rolls back, with the change. Its id."""
    statement, row = event_row(db, workspace_id=workspace_id, type_=type_, data=data)
    db.connection().execute(statement, row)
    written(db)
    return cast(uuid.UUID, row["id"])


def event_row(db: Session, *, workspace_id: uuid.UUID, type_: str,
              data: dict[str, Any]) -> tuple[Insert, dict[str, Any]]:
    """emit()'s statement and row, for a caller that sends it itself (then calls written)."""
    postgresql = db.get_bind().dialect.name == "postgresql"
    return (_INSERT_ON_POSTGRESQL if postgresql else _INSERT,
            _values(workspace_id=workspace_id, type_=type_, data=data))


def emitting_after(earlier: CTE) -> CTE:
    """emit()'s statement as a part of one statement (PostgreSQL), run after `earlier`, which
    returns at most one row. Without one, the event's transaction id is null, which its
    column refuses: the whole statement fails, and in a transaction of its own keeps
    nothing. The parameters are event_values()'."""
    xid = select(literal_column(CURRENT_XID)).select_from(earlier).scalar_subquery()
    return insert(_EVENTS).from_select(["xid", *_GIVEN], select(xid, *(
        bindparam(f"event_{name}", type_=_EVENTS.c[name].type) for name in _GIVEN)),
        include_defaults=False).cte("event_written")


def event_values(*, workspace_id: uuid.UUID, type_: str, data: dict[str, Any]
                 ) -> dict[str, Any]:
    """The parameters of emitting_after()'s part."""
    return {f"event_{name}": value for name, value in _values(
        workspace_id=workspace_id, type_=type_, data=data).items()}


def _values(*, workspace_id: uuid.UUID, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": new_id(), "workspace_id": workspace_id, "type": type_, "data": data,
            "created_at": utcnow()}


def written(db: Session) -> None:
    """An event is in the session's transaction: on AWS, nudge the dispatcher after its
    commit."""
    settings = db.info.get("settings")  # runtime.py: the writers' sessions carry them
    if settings is not None and settings.events_queue_url is not None:
        from cloudnexus.events.queue import nudge_after_commit

        nudge_after_commit(db, settings)


_EVENTS = cast(Table, Event.__table__)
_INSERT = insert(_EVENTS).values(xid=0)
_INSERT_ON_POSTGRESQL = insert(_EVENTS).values(xid=literal_column(CURRENT_XID))
_GIVEN = ("id", "workspace_id", "type", "data", "created_at")  # by the caller (_values)


def encode_cursor(xid: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{xid}:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        xid, seq = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
        return int(xid), int(seq)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Invalid cursor") from None


def page(db: Session, *, workspace_id: uuid.UUID, after: str | None, types: list[str] | None,
         limit: int) -> tuple[list[Event], str | None]:
    """The workspace's events after the cursor, oldest first, and the cursor after them.

    On PostgreSQL only events whose transaction is older than every transaction still in
    flight are handed out: one that took its id earlier but commits later is then still
    ahead of the cursor. SQLite commits one writing transaction at a time, in the order of
    the numbers they take."""
    query = select(Event).where(Event.workspace_id == workspace_id)
    if after is not None:
        query = query.where(tuple_(Event.xid, Event.seq) > decode_cursor(after))
    if types:
        query = query.where(Event.type.in_(types))
    if db.get_bind().dialect.name == "postgresql":
        query = query.where(Event.xid < text(_HORIZON))
    events = [*db.scalars(query.order_by(Event.xid, Event.seq).limit(limit))]
    if not events:
        return [], after
    return events, encode_cursor(events[-1].xid, events[-1].seq)


def newest_held_back(db: Session, *, written_after: datetime) -> bool:
    """Whether the newest event, if written after `written_after`, is still behind the
    horizon (PostgreSQL: a transaction older than the one that wrote it is still running,
    so no reader is handed it yet)."""
    if db.get_bind().dialect.name != "postgresql":
        return False
    newest = (select(Event.xid).where(Event.created_at > written_after)
              .order_by(Event.seq.desc()).limit(1).scalar_subquery())
    return bool(db.scalar(select(newest >= text(_HORIZON))))


def forget_before(db: Session, cutoff: datetime) -> int:
    """Delete the events made before `cutoff` (maintenance's retention)."""
    count = db.scalar(select(func.count()).where(Event.created_at < cutoff)) or 0
    if count:
        db.execute(delete(Event).where(Event.created_at < cutoff))
    db.commit()
    return count


def latest_cursor(db: Session) -> str | None:
    """A cursor past every event handed out so far (where a new webhook starts): on
    PostgreSQL just before the horizon, so what transactions in flight write still comes."""
    if db.get_bind().dialect.name == "postgresql":
        horizon = db.scalar(select(text(_HORIZON)))
        return encode_cursor(int(horizon) - 1, LAST_SEQ)
    last = db.scalar(select(func.max(Event.seq)))
    return None if last is None else encode_cursor(0, last)
