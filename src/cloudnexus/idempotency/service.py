"""Claiming an Idempotency-Key, replaying its response, forgetting it after 24 h."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloudnexus.database import utcnow
from cloudnexus.errors import Conflict
from cloudnexus.idempotency.models import IdempotencyRecord

KEPT_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class Claim:
    workspace_id: uuid.UUID
    key: str
    route: str


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def claim(db: Session, *, claim: Claim, request_hash: str) -> StoredResponse | None:
    """None when this request may run; the first response when it already ran; 409 when the
    key was used with another body or its first request is still running."""
    where = (IdempotencyRecord.workspace_id == claim.workspace_id,
             IdempotencyRecord.key == claim.key, IdempotencyRecord.route == claim.route)
    db.execute(delete(IdempotencyRecord).where(*where,
                                               IdempotencyRecord.created_at < utcnow() - KEPT_FOR))
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


def complete(db: Session, *, claim: Claim, status_code: int, body: Any) -> None:
    record = db.get(IdempotencyRecord, (claim.workspace_id, claim.key, claim.route))
    if record is not None:
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
    result = db.execute(delete(IdempotencyRecord).where(
        IdempotencyRecord.created_at < utcnow() - KEPT_FOR))
    db.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
