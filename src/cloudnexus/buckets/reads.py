"""A bucket's settings for a route that needs them before any ORM work (a direct upload,
before its body arrives) or none at all (a page of its files): one statement through the
read API (db.reads), or none when the key check read them already (auth/lookup.py)."""

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
    read: _Read | None = getattr(request.state, _READ, None)
    if read is not None and read.workspace_id == workspace_id and read.name == name:
        settings = read.settings
    else:
        row = await read_one(request, SETTINGS, workspace_id=workspace_id, name=name)
        settings = BucketSettings(**row) if row is not None else None
    if settings is None:
        raise bucket_not_found(name)
    return settings


def read_already(request: Request, settings: BucketSettings | None, *,
                 workspace_id: uuid.UUID, name: str) -> None:
    """What read_bucket would read for this request, read already in a statement of the
    request's own (None: no such bucket)."""
    setattr(request.state, _READ, _Read(workspace_id, name, settings))


@dataclass(frozen=True)
class _Read:
    workspace_id: uuid.UUID
    name: str
    settings: BucketSettings | None


_READ = "bucket_read"
