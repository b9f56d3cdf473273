"""A bucket's settings for a route that needs them before any ORM work (a direct upload,
before its body arrives): on PostgreSQL one statement on the event loop, without the ORM (see
database_async); on SQLite through the ORM in a worker thread."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from cloudnexus.buckets.schemas import is_bucket_name
from cloudnexus.deps import in_session, runtime_of
from cloudnexus.errors import bucket_not_found

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SETTINGS = """
SELECT id, workspace_id, public, max_file_size, allowed_content_types
FROM buckets WHERE workspace_id = %(workspace_id)s AND name = %(name)s
"""


@dataclass(frozen=True)
class BucketSettings:
    id: uuid.UUID
    workspace_id: uuid.UUID
    public: bool
    max_file_size: int | None
    allowed_content_types: list[str] | None


async def read_bucket(request: Request, *, workspace_id: uuid.UUID,
                      name: str) -> BucketSettings:
    """The workspace's bucket of that name; 404 otherwise."""
    if not is_bucket_name(name):
        raise bucket_not_found(name)
    runtime = runtime_of(request)
    database = await runtime.async_database()
    if database is None:
        return await in_session(request, lambda db: _read_with_orm(
            db, workspace_id=workspace_id, name=name))
    row = await database.fetch_one(SETTINGS, {"workspace_id": workspace_id, "name": name})
    if row is None:
        raise bucket_not_found(name)
    return BucketSettings(**row)


def _read_with_orm(db: Session, *, workspace_id: uuid.UUID, name: str) -> BucketSettings:
    from cloudnexus.buckets import service

    bucket = service.get(db, workspace_id=workspace_id, name=name)
    return BucketSettings(bucket.id, bucket.workspace_id, bucket.public, bucket.max_file_size,
                          bucket.allowed_content_types)
