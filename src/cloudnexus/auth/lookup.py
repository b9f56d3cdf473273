"""The key check: the stored key read through the read API (db.reads), whichever database;
on PostgreSQL with the bucket or the file the request's path names, which the route reads
next, in the same statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from cloudnexus.auth.principal import LAST_USED_RESOLUTION, Principal, parse_token, verify
from cloudnexus.buckets.reads import SETTINGS
from cloudnexus.buckets.schemas import is_bucket_name
from cloudnexus.db.reads import Query, Row, read_one, read_one_beside, write
from cloudnexus.files.reads import RECORD
from cloudnexus.files.status import READY

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
    row = await read_key(request, KEY, parsed.key_id)
    now = datetime.now(UTC)
    principal, record_use = verify(KeyRow(**row) if row else None, parsed.secret, now)
    if record_use:  # at most once a minute per key: a write of its own, after the read
        await write(request, RECORD_USE, id=principal.key_id, now=now,
                    before=now - LAST_USED_RESOLUTION)
    return principal


async def read_key(request: Request, query: Query, key_id: uuid.UUID) -> Row | None:
    """A key's row (an API key's, or a signing key's: `query`), and beside it, on
    PostgreSQL, what the route reads next in the key's workspace (read_next)."""
    beside = read_next(request)
    if beside is None:
        return await read_one(request, query, id=key_id)
    return await read_one_beside(request, query, {"id": key_id}, *beside,
                                 shared="workspace_id")


def read_next(request: Request) -> tuple[Query, dict[str, Any]] | None:
    """What the route reads next in the key's workspace, by its path: a bucket's settings
    (buckets/dependencies.py), or a file to read (files/dependencies.readable_file)."""
    bucket = request.path_params.get("bucket")
    if isinstance(bucket, str) and is_bucket_name(bucket):
        return SETTINGS, {"name": bucket}
    file_id = request.path_params.get("file_id")
    if request.method == "GET" and isinstance(file_id, str):
        try:
            return RECORD, {"id": uuid.UUID(file_id), "status": READY}
        except ValueError:
            return None
    return None
