"""Authenticating requests and managing a workspace's keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from cloudnexus.auth.models import ApiKey
from cloudnexus.auth.principal import Principal
from cloudnexus.auth.tokens import format_key, hash_secret, new_secret, parse_key, secret_matches
from cloudnexus.database import utcnow
from cloudnexus.errors import NotFound, Unauthorized

LAST_USED_RESOLUTION = timedelta(minutes=1)
# Compared against when the key id is unknown, so that case costs the same hash and compare.
_ABSENT_HASH = hash_secret("absent")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def authenticate(db: Session, *, token: str | None) -> Principal:
    """The principal of a bearer token; 401 if missing, malformed, unknown, revoked, expired."""
    if not token:
        raise Unauthorized("Send Authorization: Bearer <api key>", headers=_CHALLENGE)
    parsed = parse_key(token)
    if parsed is None:
        raise Unauthorized("Malformed API key", headers=_CHALLENGE)
    key = db.get(ApiKey, parsed.key_id)
    if not secret_matches(parsed.secret, key.secret_hash if key else _ABSENT_HASH) or key is None:
        raise Unauthorized("Unknown API key", headers=_CHALLENGE)
    now = utcnow()
    if key.revoked_at is not None:
        raise Unauthorized("API key revoked", headers=_CHALLENGE)
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("API key expired", headers=_CHALLENGE)
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        _touch(db, key_id=key.id, now=now)
    return Principal(key_id=key.id, workspace_id=key.workspace_id, scopes=tuple(key.scopes))


def _touch(db: Session, *, key_id: uuid.UUID, now: datetime) -> None:
    """Record use at most once a minute, so a busy key costs no write per request."""
    db.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .where(or_(ApiKey.last_used_at.is_(None),
                   ApiKey.last_used_at < now - LAST_USED_RESOLUTION))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.commit()


def create(db: Session, *, workspace_id: uuid.UUID, name: str, scopes: Sequence[str],
           expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """A new key and its full text, which is never stored and never shown again."""
    secret = new_secret()
    key = ApiKey(id=uuid.uuid4(), workspace_id=workspace_id, name=name,
                 secret_hash=hash_secret(secret), scopes=sorted(set(scopes)),
                 expires_at=expires_at)
    db.add(key)
    db.commit()
    return key, format_key(key.id, secret)


def list_keys(db: Session, *, workspace_id: uuid.UUID) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.workspace_id == workspace_id)
    return [*db.scalars(query.order_by(ApiKey.created_at, ApiKey.id))]


def revoke(db: Session, *, workspace_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    key = db.get(ApiKey, key_id)
    if key is None or key.workspace_id != workspace_id:
        raise NotFound("API key not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.commit()
    return key
