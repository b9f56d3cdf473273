"""A file read by a route that only reads it (its record, its content's redirect): on
PostgreSQL one statement on the event loop, without the ORM (see database_async); on SQLite
through the ORM in a worker thread."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from cloudnexus.deps import in_session, runtime_of
from cloudnexus.errors import NotFound
from cloudnexus.files.schemas import FileOut
from cloudnexus.files.status import READY

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

RECORD = """
SELECT f.id, b.name AS bucket, f.path, f.size, f.content_type, f.sha256, f.etag, f.metadata,
       f.tags, f.status, f.created_at, f.updated_at, f.created_by, f.detected_content_type,
       f.image, f.storage_key, b.public, f.previews,
       b.previews_enabled, b.preview_sizes
FROM files f JOIN buckets b ON b.id = f.bucket_id
WHERE f.id = %(id)s AND f.workspace_id = %(workspace_id)s AND f.status = %(status)s
"""


@dataclass(frozen=True)
class ReadFile:
    """A ready file as a route that only reads it needs it: what the API shows of it (its
    public URL left out: only some routes need it, and making it may import boto3), and
    where its bytes are."""

    shown: FileOut
    storage_key: str
    public: bool
    previews: dict[str, int] | None = None  # variant name -> bytes, of those made
    previews_enabled: bool = True  # the bucket's settings
    preview_sizes: list[str] | None = None


async def read_file(request: Request, *, workspace_id: uuid.UUID, file_id: uuid.UUID) -> ReadFile:
    """A ready file of the workspace; 404 otherwise."""
    runtime = runtime_of(request)
    database = await runtime.async_database()
    if database is None:
        return await in_session(request, lambda db: _read_with_orm(
            db, workspace_id=workspace_id, file_id=file_id))
    row = await database.fetch_one(RECORD, {"id": file_id, "workspace_id": workspace_id,
                                            "status": READY})
    if row is None:
        raise NotFound("File not found")
    storage_key, public = row.pop("storage_key"), row.pop("public")
    previews = {name: row.pop(name) for name in ("previews", "previews_enabled",
                                                  "preview_sizes")}
    return ReadFile(FileOut(**row, public_url=None), storage_key, public, **previews)


def _read_with_orm(db: Session, *, workspace_id: uuid.UUID, file_id: uuid.UUID) -> ReadFile:
    from cloudnexus.files import service

    file = service.get(db, workspace_id=workspace_id, file_id=file_id)
    return ReadFile(FileOut.from_model(file, None), file.storage_key, file.bucket.public,
                    file.previews, file.bucket.previews_enabled, file.bucket.preview_sizes)
