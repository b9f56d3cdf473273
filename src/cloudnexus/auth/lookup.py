"""The key check on PostgreSQL, on the event loop without the ORM (see db.aio); the
same checks as `service.authenticate`, which serves SQLite."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from cloudnexus.auth.principal import LAST_USED_RESOLUTION, Principal, parse_token, verify
from cloudnexus.db.aio import AsyncDatabase

KEY = """
SELECT id, workspace_id, secret_hash, scopes, expires_at, last_used_at, revoked_at
FROM api_keys WHERE id = %(id)s
"""
RECORD_USE = """
UPDATE api_keys SET last_used_at = %(now)s
WHERE id = %(id)s AND (last_used_at IS NULL OR last_used_at < %(before)s)
"""


@dataclass(frozen=True)
class KeyRow:
    id: uuid.UUID
    workspace_id: uuid.UUID
    secret_hash: str
    scopes: list[str]
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


async def authenticate(database: AsyncDatabase, *, token: str | None) -> Principal:
    """The principal of a bearer token; 401 if missing, malformed, unknown, revoked, expired."""
    parsed = parse_token(token)
    row = await database.fetch_one(KEY, {"id": parsed.key_id})
    now = datetime.now(UTC)
    principal, record_use = verify(KeyRow(**row) if row else None, parsed.secret, now)
    if record_use:
        await database.execute(RECORD_USE, {"id": principal.key_id, "now": now,
                                            "before": now - LAST_USED_RESOLUTION})
    return principal
