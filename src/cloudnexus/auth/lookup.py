"""The key check: the stored key read through the read API (db.reads), whichever database;
with the bucket the request's path names, when it names one, in the same statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request

from cloudnexus.auth.principal import LAST_USED_RESOLUTION, Principal, parse_token, verify
from cloudnexus.buckets.reads import BucketSettings, read_already
from cloudnexus.buckets.schemas import is_bucket_name
from cloudnexus.db.reads import Query, Row, read_one, write

KEY = Query("""
SELECT id, workspace_id, secret_hash, scopes, expires_at, last_used_at, revoked_at
FROM api_keys WHERE id = :id
""", tables=("api_keys",))
# The same, and the bucket of that name in the key's workspace: a route on a bucket reads it
# next (buckets.reads.read_bucket), and one statement is one round trip less.
KEY_AND_BUCKET = Query("""
SELECT k.id, k.workspace_id, k.secret_hash, k.scopes, k.expires_at, k.last_used_at,
       k.revoked_at, b.id AS bucket_id, b.public, b.max_file_size, b.allowed_content_types
FROM api_keys k LEFT JOIN buckets b ON b.workspace_id = k.workspace_id AND b.name = :bucket
WHERE k.id = :id
""", tables=("api_keys", "buckets"), typed_as=(("bucket_id", "buckets.id"),
                                               ("bucket", "buckets.name")))
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
    bucket = request.path_params.get("bucket")
    with_bucket = isinstance(bucket, str) and is_bucket_name(bucket)
    row = await read_one(request, KEY_AND_BUCKET, id=parsed.key_id, bucket=bucket) \
        if with_bucket else await read_one(request, KEY, id=parsed.key_id)
    now = datetime.now(UTC)
    principal, record_use = verify(_key_of(row) if row else None, parsed.secret, now)
    if with_bucket and row is not None:
        read_already(request, _bucket_of(row, str(bucket)), workspace_id=principal.workspace_id,
                     name=str(bucket))
    if record_use:  # at most once a minute per key: a write of its own, after the read
        await write(request, RECORD_USE, id=principal.key_id, now=now,
                    before=now - LAST_USED_RESOLUTION)
    return principal


def _key_of(row: Row) -> KeyRow:
    return KeyRow(row["id"], row["workspace_id"], row["secret_hash"], row["scopes"],
                  row["expires_at"], row["last_used_at"], row["revoked_at"])


def _bucket_of(row: Row, name: str) -> BucketSettings | None:
    if row["bucket_id"] is None:
        return None
    return BucketSettings(row["bucket_id"], row["workspace_id"], name, row["public"],
                          row["max_file_size"], row["allowed_content_types"])
