"""A file as GET /v1/files/{id} shows it: on PostgreSQL one statement on the event loop,
without the ORM (see database_async); on SQLite through the ORM in a worker thread."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from fastapi.concurrency import run_in_threadpool

from cloudnexus.deps import DeferredStorage, in_session
from cloudnexus.errors import NotFound
from cloudnexus.files.schemas import FileOut
from cloudnexus.files.status import READY
from cloudnexus.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cloudnexus.storage.base import Storage

RECORD = """
SELECT f.id, b.name AS bucket, f.path, f.size, f.content_type, f.sha256, f.etag, f.metadata,
       f.tags, f.status, f.created_at, f.updated_at, f.storage_key, b.public
FROM files f JOIN buckets b ON b.id = f.bucket_id
WHERE f.id = %(id)s AND f.workspace_id = %(workspace_id)s AND f.status = %(status)s
"""


async def read_file(runtime: Runtime, *, workspace_id: uuid.UUID, file_id: uuid.UUID) -> FileOut:
    """A ready file of the workspace; 404 otherwise."""
    database = await runtime.async_database()
    if database is None:
        return await in_session(runtime, lambda db: _read_with_orm(
            db, DeferredStorage(runtime), workspace_id=workspace_id, file_id=file_id))
    row = await database.fetch_one(RECORD, {"id": file_id, "workspace_id": workspace_id,
                                            "status": READY})
    if row is None:
        raise NotFound("File not found")
    storage_key, public = row.pop("storage_key"), row.pop("public")
    # A public file's URL may make the storage client (importing boto3): not on the event loop.
    public_url = (await run_in_threadpool(runtime.storage.public_url, storage_key)
                  if public else None)
    return FileOut(**row, public_url=public_url)


def _read_with_orm(db: Session, storage: Storage | DeferredStorage, *, workspace_id: uuid.UUID,
                   file_id: uuid.UUID) -> FileOut:
    from cloudnexus.files import service

    file = service.get(db, workspace_id=workspace_id, file_id=file_id)
    return FileOut.from_model(file, service.public_url(storage, file))
