"""The key check: the stored key read through the read API (db.reads), whichever database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request

from cloudnexus.auth.principal import LAST_USED_RESOLUTION, Principal, parse_token, verify
from cloudnexus.db.reads import Query, read_one, write

KEY = Query("""
SELECT id, workspace_id, secret_hash, scopes, expires_at, last_used_at, revoked_at
FROM api_keys WHERE id = :id
""", tables=("api_keys",))
RECORD_USE = Query("""
UPDATE api_keys SET last_used_at = :now
WHERE id = :id AND (last_used_at IS NULL OR last_used_at < :before)
""", tables=("api_keys",), typed_as=(("now", "api_keys.last_used_at"),
                                     ("before", "api_keys.last_used_at")))


@dataclass(frozen=True)
class KeyRow:
    id: uuid.UUID
    workspace_id: uuid.UUID
    secret_hash: str
    scopes: list[str]
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


async def authenticate(request: Request, *, token: str | None) -> Principal:
    """The principal of a bearer token; 401 if missing, malformed, unknown, revoked, expired."""
    parsed = parse_token(token)
    row = await read_one(request, KEY, id=parsed.key_id)
    now = datetime.now(UTC)
    principal, record_use = verify(KeyRow(**row) if row else None, parsed.secret, now)
    if record_use:  # at most once a minute per key: a write of its own, after the read
        await write(request, RECORD_USE, id=principal.key_id, now=now,
                    before=now - LAST_USED_RESOLUTION)
    return principal
