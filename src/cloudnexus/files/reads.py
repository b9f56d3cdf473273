"""A file read by a route that only reads it (its record, its content's redirect): one
statement through the read API (db.reads)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from starlette.requests import Request

from cloudnexus.auth.principal import Principal
from cloudnexus.db.reads import Query, read_one
from cloudnexus.errors import NotFound
from cloudnexus.files.schemas import FileOut
from cloudnexus.files.status import READY
from cloudnexus.uploads.status import PENDING

RECORD = Query("""
SELECT f.id, b.name AS bucket, f.path, f.size, f.content_type, f.sha256, f.etag, f.metadata,
       f.tags, f.status, f.created_at, f.updated_at, f.created_by, f.detected_content_type,
       f.image, f.storage_key, b.public, f.previews,
       b.previews_enabled, b.preview_sizes
FROM files f JOIN buckets b ON b.id = f.bucket_id
WHERE f.id = :id AND f.workspace_id = :workspace_id AND f.status = :status
""", tables=("files", "buckets"))


PENDING_UPLOAD = Query("""
SELECT u.id, u.path, b.name AS bucket
FROM uploads u JOIN buckets b ON b.id = u.bucket_id
WHERE u.file_id = :file_id AND u.workspace_id = :workspace_id AND u.status = :status
""", tables=("uploads", "buckets"))


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
    row = await read_one(request, RECORD, id=file_id, workspace_id=workspace_id, status=READY)
    if row is None:
        raise NotFound("File not found")
    storage_key, public = row.pop("storage_key"), row.pop("public")
    previews = {name: row.pop(name) for name in ("previews", "previews_enabled",
                                                  "preview_sizes")}
    return ReadFile(FileOut(**row, public_url=None), storage_key, public, **previews)


async def not_ready(request: Request, *, principal: Principal, file_id: uuid.UUID) -> NotFound:
    """The 404 of a file that is not there: when it is a presigned upload's file still waiting
    for its complete (and the caller may see that upload), it says so and names the upload."""
    row = await read_one(request, PENDING_UPLOAD, file_id=file_id,
                         workspace_id=principal.workspace_id, status=PENDING)
    if row is None or (principal.grant is not None
                       and not principal.grant.covers(row["bucket"], row["path"])):
        return NotFound("File not found")
    upload = row["id"]
    return NotFound(f"File {file_id} is not ready: its upload {upload} is pending; send its "
                    f"bytes, then POST /v1/uploads/{upload}/complete")
