"""/v1/buckets/{bucket}/files and /v1/files/{id}: direct upload, list, read, change, copy,
delete."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import RedirectResponse

from cloudnexus.auth.dependencies import PrincipalDep, check_covers, require
from cloudnexus.auth.scopes import READ, WRITE
from cloudnexus.buckets.dependencies import BucketDep, BucketSettingsDep
from cloudnexus.db.sessions import reads_only
from cloudnexus.deps import RuntimeDep, SessionDep, StorageDep
from cloudnexus.files.dependencies import (
    DeletableFileDep,
    DirectUploadDep,
    FileDep,
    ReadableFileDep,
)
from cloudnexus.files.schemas import (
    BatchDelete,
    BatchDeleted,
    FileCopy,
    FileOut,
    FilePage,
    FileUpdate,
    SortField,
    SortOrder,
)
from cloudnexus.idempotency.dependencies import Idempotent
from cloudnexus.idempotency.route import IdempotentRoute
from cloudnexus.runtime import signed_with
from cloudnexus.schemas import error_responses

router = APIRouter(tags=["files"], route_class=IdempotentRoute)
lister = [Depends(require(READ, "list")), Depends(reads_only)]
reader = [Depends(require(READ, "read"))]
writer = [Depends(require(WRITE, "write"))]
deleter = [Depends(require(WRITE, "delete"))]
batch_deleter = [Depends(require(WRITE))]  # not for delegated tokens

DIRECT_UPLOAD_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "path": {"type": "string", "description": "Default: the file's name"},
        "metadata": {"type": "string", "description": "A JSON object, at most 8 KiB"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "overwrite": {"type": "boolean", "default": False},
    }}}}}}


@router.post("/v1/buckets/{bucket}/files", status_code=201, dependencies=writer,
             openapi_extra=DIRECT_UPLOAD_FORM,
             responses=error_responses(400, 403, 404, 409, 413, 415))
async def upload_file(_: Idempotent, upload: DirectUploadDep, db: SessionDep,
                      storage: StorageDep, runtime: RuntimeDep) -> FileOut:
    """Upload a file in the request body (up to DIRECT_UPLOAD_MAX_BYTES)."""
    from cloudnexus.files import service

    file = await service.create_direct(runtime, db, storage, upload=upload)
    return FileOut.from_model(file, service.public_url(storage, file))


@router.get("/v1/buckets/{bucket}/files", dependencies=lister, response_model=FilePage,
            responses=error_responses(400, 403, 404))
async def list_files(
    request: Request, bucket: BucketSettingsDep, principal: PrincipalDep, db: SessionDep,
    storage: StorageDep,
    prefix: str | None = None,
    q: Annotated[str | None, Query(description="Substring of the path, any case")] = None,
    tag: str | None = None,
    content_type: Annotated[str | None, Query(description="Exact, or like image/*")] = None,
    sort: SortField = "path", order: SortOrder = "asc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
    created_by: Annotated[str | None, Query(
        description="Files made by this token subject, or by `key:<api key id>`")] = None,
) -> FilePage | Response:
    """List a bucket's files, a page at a time (keyset pagination)."""
    from cloudnexus.files.listing import ListQuery, page

    if principal.grant is not None:
        prefix = principal.grant.listing_prefix(prefix)
    query = ListQuery(prefix=prefix, q=q, tag=tag, content_type=content_type, sort=sort,
                      order=order, limit=limit, cursor=cursor, created_by=created_by)
    return await page(request, db, storage, bucket=bucket, query=query)


@router.post("/v1/buckets/{bucket}/files:delete", dependencies=batch_deleter,
             responses=error_responses(403, 404))
def delete_files(body: BatchDelete, bucket: BucketDep, db: SessionDep,
                 storage: StorageDep) -> BatchDeleted:
    """Delete up to 1000 files by id, or every file under a prefix."""
    from cloudnexus.files import deletion

    count = deletion.delete_many(db, storage, bucket=bucket, ids=body.ids, prefix=body.prefix)
    return BatchDeleted(deleted=count)


@router.get("/v1/files/{file_id}", dependencies=reader, responses=error_responses(403, 404))
async def get_file(file: ReadableFileDep, runtime: RuntimeDep, response: Response) -> FileOut:
    """A file's record; the ETag header is its etag."""
    response.headers["ETag"] = f'"{file.shown.etag}"'
    if not file.public:
        return file.shown
    public_url = await signed_with(runtime, lambda storage: storage.public_url(file.storage_key))
    return file.shown.model_copy(update={"public_url": public_url})


@router.get("/v1/files/{file_id}/content", dependencies=reader, status_code=302,
            response_class=RedirectResponse, responses=error_responses(403, 404))
async def download_file(file: ReadableFileDep, runtime: RuntimeDep,
                        download: bool = False) -> RedirectResponse:
    """Redirect to a short-lived download URL (download=true: as an attachment)."""
    from cloudnexus.files.paths import file_name

    name = file_name(file.shown.path) if download else None
    url = await signed_with(runtime, lambda storage: storage.presign_get(
        file.storage_key, expires_in=runtime.settings.presign_expires, download_name=name))
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


@router.patch("/v1/files/{file_id}", dependencies=writer,
              responses=error_responses(400, 403, 404, 409, 412))
def update_file(body: FileUpdate, file: FileDep, principal: PrincipalDep, db: SessionDep,
                storage: StorageDep, response: Response,
                if_match: Annotated[str | None, Header()] = None) -> FileOut:
    """Change a file's path, metadata or tags; with If-Match, only if its etag still matches."""
    from cloudnexus.files import service

    if principal.grant is not None and body.path is not None:
        principal.grant.check_new_path(body.path)
    changed = service.update(db, file=file, changes=body.model_dump(include=body.model_fields_set),
                             if_match=if_match)
    response.headers["ETag"] = f'"{changed.etag}"'
    return FileOut.from_model(changed, service.public_url(storage, changed))


@router.post("/v1/files/{file_id}/copy", status_code=201, dependencies=writer,
             responses=error_responses(400, 403, 404, 409, 413, 415))
def copy_file(body: FileCopy, file: FileDep, principal: PrincipalDep, db: SessionDep,
              storage: StorageDep, _: Idempotent) -> FileOut:
    """Copy a file server-side, into the same or another bucket of the workspace."""
    from cloudnexus.buckets import service as buckets
    from cloudnexus.files import service

    if body.bucket is not None:
        check_covers(principal, bucket=body.bucket)
    target = file.bucket if body.bucket is None else buckets.get(
        db, workspace_id=principal.workspace_id, name=body.bucket)
    if principal.grant is not None:
        principal.grant.check_new_file(path=body.path, size=file.size,
                                       content_type=file.content_type)
    copied = service.copy(db, storage, file=file, target=target, path=body.path,
                          overwrite=body.overwrite, created_by=principal.created_by)
    return FileOut.from_model(copied, service.public_url(storage, copied))


@router.delete("/v1/files/{file_id}", status_code=204, dependencies=deleter,
               responses=error_responses(403, 404))
def delete_file(file: DeletableFileDep, db: SessionDep, storage: StorageDep) -> Response:
    """Delete a file: its bytes, then its record."""
    from cloudnexus.files import deletion

    deletion.delete(db, storage, file=file)
    return Response(status_code=204)
