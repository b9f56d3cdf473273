"""The file named in the path, looked up in the caller's workspace (404 otherwise)."""

import uuid
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Path, Request

from cloudnexus.auth.dependencies import PrincipalDep
from cloudnexus.buckets.reads import BucketSettings, read_bucket
from cloudnexus.buckets.rules import check_upload
from cloudnexus.config import Settings
from cloudnexus.deps import (
    SessionDep,
    SettingsDep,
    StorageDep,
    database_released,
    parse_id,
    runtime_of,
)
from cloudnexus.errors import AppError
from cloudnexus.files.direct import DirectUpload, read_form
from cloudnexus.files.forwarding import Forward, SpoolPipe
from cloudnexus.files.reads import ReadFile, read_file
from cloudnexus.storage.keys import object_key

if TYPE_CHECKING:
    from cloudnexus.files.models import File
    from cloudnexus.storage.base import Storage


def valid_file(file_id: str, principal: PrincipalDep, db: SessionDep) -> "File":
    from cloudnexus.files import service

    file = service.get(db, workspace_id=principal.workspace_id, file_id=parse_id(file_id, "File"))
    # The lookup's read-only transaction ends here, in this worker thread: the connection goes
    # back to the pool now, and a route that needs nothing more closes its session without
    # another trip to a worker thread. (What a route writes next starts its own transaction.)
    db.commit()
    return file


async def readable_file(file_id: str, principal: PrincipalDep, request: Request) -> ReadFile:
    """The file, for a route that only reads it (see files/reads.py)."""
    return await read_file(runtime_of(request), workspace_id=principal.workspace_id,
                           file_id=parse_id(file_id, "File"))


def deletable_file(file_id: str, principal: PrincipalDep, db: SessionDep) -> "File":
    """A ready file, one whose delete was interrupted (so a retry can finish it), or one
    that maintenance found without its bytes (so it can be deleted and uncounted)."""
    from cloudnexus.files import service
    from cloudnexus.files.models import DELETING, MISSING, READY

    return service.get(db, workspace_id=principal.workspace_id,
                       file_id=parse_id(file_id, "File"), statuses=(READY, DELETING, MISSING))


ReadableFileDep = Annotated[ReadFile, Depends(readable_file)]
if TYPE_CHECKING:
    FileDep = Annotated[File, Depends(valid_file)]
    DeletableFileDep = Annotated[File, Depends(deletable_file)]
else:
    FileDep = Annotated[Any, Depends(valid_file)]
    DeletableFileDep = Annotated[Any, Depends(deletable_file)]


async def direct_upload(
    request: Request, bucket: Annotated[str, Path(description="The bucket's name")],
    principal: PrincipalDep, storage: StorageDep, settings: SettingsDep,
) -> DirectUpload:
    """The request's form, its file part sent on to storage as it arrives when it is large
    and the bucket takes it; the database is given back meanwhile (a slow client can stretch
    the body out). The bucket is read before the body (read_bucket: on PostgreSQL, on the
    event loop), its record only after."""
    async with database_released(request):
        # Read with the request's own slot given back: holding it while waiting for a second
        # one (SQLite's read takes a slot) deadlocked a burst of uploads until the slot wait
        # ran out, and every request queued behind them.
        target = await read_bucket(runtime_of(request), workspace_id=principal.workspace_id,
                                   name=bucket)
        return await _read_upload(request, target, storage, settings)


async def _read_upload(request: Request, target: BucketSettings, storage: "Storage",
                       settings: Settings) -> DirectUpload:
    file_id = uuid.uuid4()

    def forwarder(content_type: str, pipe: SpoolPipe) -> Forward | None:
        try:
            check_upload(size=pipe.length, content_type=content_type,
                         max_file_size=target.max_file_size,
                         allowed_content_types=target.allowed_content_types)
        except AppError:
            return None  # refused once it has arrived, with its error
        key = object_key(public=target.public, workspace_id=target.workspace_id,
                         bucket_id=target.id, file_id=file_id)
        return Forward.start(storage, key, pipe, content_type)

    upload = await read_form(request, settings.direct_upload_max_bytes, forwarder)
    upload.bucket_id, upload.file_id = target.id, file_id  # a forwarded part's key has them
    return upload


DirectUploadDep = Annotated[DirectUpload, Depends(direct_upload)]
