"""Authenticating requests and managing a workspace's keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloudnexus.auth.models import ApiKey
from cloudnexus.auth.tokens import format_key, hash_secret, new_secret
from cloudnexus.db.columns import utcnow
from cloudnexus.errors import NotFound


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
