"""Claiming an Idempotency-Key, replaying its response, forgetting it after 24 h."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloudnexus.db.columns import utcnow
from cloudnexus.db.engine import rows_matched
from cloudnexus.errors import Conflict
from cloudnexus.idempotency.models import IdempotencyRecord

KEPT_FOR = timedelta(hours=24)
# A claim still without its response after this long belongs to a request that died (a Lambda
# runs 15 minutes at most): another request with the key may take it over.
PENDING_FOR = timedelta(minutes=15)
WITHHELD = "withheld"  # the fields of a stored response left out of it, under this name


@dataclass(frozen=True)
class Claim:
    workspace_id: uuid.UUID
    key: str
    route: str


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any

    @property
    def withheld(self) -> list[str]:
        """Fields the first response showed once and that were not kept (a new key's secret)."""
        return list(self.body.get(WITHHELD, [])) if isinstance(self.body, dict) else []


def _forgotten(now: datetime) -> ColumnElement[bool]:
    """Records past their 24 h, and claims whose request died before it answered."""
    return or_(IdempotencyRecord.created_at < now - KEPT_FOR,
               and_(IdempotencyRecord.status_code.is_(None),
                    IdempotencyRecord.created_at < now - PENDING_FOR))


def claim(db: Session, *, claim: Claim, request_hash: str) -> StoredResponse | None:
    """None when this request may run; the first response when it already ran; 409 when the
    key was used with another body or its first request is still running."""
    where = (IdempotencyRecord.workspace_id == claim.workspace_id,
             IdempotencyRecord.key == claim.key, IdempotencyRecord.route == claim.route)
    db.execute(delete(IdempotencyRecord).where(*where, _forgotten(utcnow())))
    db.add(IdempotencyRecord(workspace_id=claim.workspace_id, key=claim.key, route=claim.route,
                             request_hash=request_hash))
    try:
        db.commit()
        return None
    except IntegrityError:
        db.rollback()
    existing = db.scalar(select(IdempotencyRecord).where(*where))
    if existing is None:  # released meanwhile: the caller may retry
        raise Conflict("A request with this Idempotency-Key just failed; retry it")
    if existing.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was used with another request body")
    if existing.status_code is None:
        raise Conflict("A request with this Idempotency-Key is still in progress")
    return StoredResponse(existing.status_code, existing.body)


def complete(db: Session, *, claim: Claim, status_code: int, body: Any,
             withheld: frozenset[str] = frozenset()) -> None:
    """Remember the response, but for the `withheld` fields of its body: a secret shown once
    is not stored here either."""
    if withheld and isinstance(body, dict):
        body = {name: value for name, value in body.items() if name not in withheld}
        body[WITHHELD] = sorted(withheld)
    record = db.get(IdempotencyRecord, (claim.workspace_id, claim.key, claim.route))
    if record is not None and record.status_code is None:
        record.status_code, record.body = status_code, body
        db.commit()


def release(db: Session, *, claim: Claim) -> None:
    """Forget a claim whose request failed, so the client can retry with the same key."""
    db.execute(delete(IdempotencyRecord).where(
        IdempotencyRecord.workspace_id == claim.workspace_id,
        IdempotencyRecord.key == claim.key, IdempotencyRecord.route == claim.route,
        IdempotencyRecord.status_code.is_(None)))
    db.commit()


def forget_expired(db: Session) -> int:
    result = db.execute(delete(IdempotencyRecord).where(_forgotten(utcnow())))
    db.commit()
    return rows_matched(result)
