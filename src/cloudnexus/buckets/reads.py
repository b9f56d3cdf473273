"""A bucket's settings for a route that needs them before any ORM work (a direct upload,
before its body arrives) or none at all (a page of its files): one statement through the
read API (db.reads)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from starlette.requests import Request

from cloudnexus.buckets.schemas import is_bucket_name
from cloudnexus.db.reads import Query, read_one
from cloudnexus.errors import bucket_not_found

SETTINGS = Query("""
SELECT id, workspace_id, name, public, max_file_size, allowed_content_types
FROM buckets WHERE workspace_id = :workspace_id AND name = :name
""", tables=("buckets",))


@dataclass(frozen=True)
class BucketSettings:
    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    public: bool
    max_file_size: int | None
    allowed_content_types: list[str] | None


async def read_bucket(request: Request, *, workspace_id: uuid.UUID,
                      name: str) -> BucketSettings:
    """The workspace's bucket of that name; 404 otherwise."""
    if not is_bucket_name(name):
        raise bucket_not_found(name)
    row = await read_one(request, SETTINGS, workspace_id=workspace_id, name=name)
    if row is None:
        raise bucket_not_found(name)
    return BucketSettings(**row)
