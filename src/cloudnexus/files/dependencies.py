"""The file named in the path, looked up in the caller's workspace (404 otherwise)."""

import uuid
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Path, Request

from cloudnexus.auth.dependencies import PrincipalDep, check_covers
from cloudnexus.auth.principal import Principal
from cloudnexus.buckets.reads import BucketSettings, read_bucket
from cloudnexus.buckets.rules import check_upload
from cloudnexus.db.sessions import database_released
from cloudnexus.deps import SessionDep, SettingsDep, StorageDep
from cloudnexus.errors import AppError, NotFound
from cloudnexus.files.direct import DirectUpload, Forwarder, read_form
from cloudnexus.files.forwarding import FORWARD_FROM, Forward, SpoolPipe
from cloudnexus.files.reads import ReadFile, not_ready, read_file
from cloudnexus.schemas import parse_id
from cloudnexus.storage.base import Storage
from cloudnexus.storage.keys import object_key

if TYPE_CHECKING:
    from cloudnexus.files.models import File


def valid_file(file_id: str, principal: PrincipalDep, db: SessionDep) -> "File":
    from cloudnexus.files import service

    file = service.get(db, workspace_id=principal.workspace_id, file_id=parse_id(file_id, "File"))
    check_covers(principal, bucket=file.bucket.name, path=file.path)
    # The lookup's read-only transaction ends here, in this worker thread: the connection goes
    # back to the pool now, and a route that needs nothing more closes its session without
    # another trip to a worker thread. (What a route writes next starts its own transaction.)
    db.commit()
    return file


async def readable_file(file_id: str, principal: PrincipalDep, request: Request) -> ReadFile:
    """The file, for a route that only reads it (see files/reads.py)."""
    wanted = parse_id(file_id, "File")
    try:
        file = await read_file(request, workspace_id=principal.workspace_id, file_id=wanted)
    except NotFound:
        raise await not_ready(request, principal=principal, file_id=wanted) from None
    check_covers(principal, bucket=file.shown.bucket, path=file.shown.path)
    return file


def deletable_file(file_id: str, principal: PrincipalDep, db: SessionDep) -> "File":
    """A ready file, one whose delete was interrupted (so a retry can finish it), or one
    that maintenance found without its bytes (so it can be deleted and uncounted)."""
    from cloudnexus.files import service
    from cloudnexus.files.models import DELETING, MISSING, READY

    file = service.get(db, workspace_id=principal.workspace_id,
                       file_id=parse_id(file_id, "File"), statuses=(READY, DELETING, MISSING))
    check_covers(principal, bucket=file.bucket.name, path=file.path)
    return file


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
    the body out). The bucket is read before the body, through the read API (no ORM session
    for it, and on PostgreSQL no trip to a worker thread); its record reads its visibility
    again, under the lock that counts the file (files/service.py)."""
    check_covers(principal, bucket=bucket)
    target = await read_bucket(request, workspace_id=principal.workspace_id, name=bucket)
    file_id = uuid.uuid4()
    forwarder = _forwarder(target, principal, storage, file_id) \
        if may_forward(request, storage) else None
    async with database_released(request):
        upload = await read_form(request, settings.direct_upload_max_bytes, forwarder)
    upload.bucket, upload.file_id = target, file_id  # a forwarded part's key has the id
    upload.created_by, upload.grant = principal.created_by, principal.grant
    return upload


def may_forward(request: Request, storage: Storage) -> bool:
    """Whether the body may hold a file part large enough to be sent on to `storage` as it
    arrives (to a local disk, never: handing the part over to a thread as it arrives costs
    more than writing it whole, docs/performance.md)."""
    declared = request.headers.get("content-length")
    return storage.remote and not (
        declared and declared.isdigit() and int(declared) < FORWARD_FROM)


def _forwarder(target: BucketSettings, principal: Principal, storage: Storage,
               file_id: uuid.UUID) -> Forwarder:
    def forwarder(content_type: str, pipe: SpoolPipe) -> Forward | None:
        try:
            check_upload(size=pipe.length, content_type=content_type,
                         max_file_size=target.max_file_size,
                         allowed_content_types=target.allowed_content_types)
            if principal.grant is not None:  # its prefix is checked once the path is known
                principal.grant.check_limits(size=pipe.length, content_type=content_type)
        except AppError:
            return None  # refused once it has arrived, with its error
        key = object_key(public=target.public, workspace_id=target.workspace_id,
                         bucket_id=target.id, file_id=file_id)
        return Forward.start(storage, key, pipe, content_type)

    return forwarder


DirectUploadDep = Annotated[DirectUpload, Depends(direct_upload)]
