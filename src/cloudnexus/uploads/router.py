"""/v1/buckets/{bucket}/uploads and /v1/uploads/{id}: presigned single and multipart uploads."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from cloudnexus.auth.dependencies import PrincipalDep, require
from cloudnexus.auth.scopes import WRITE
from cloudnexus.buckets.dependencies import BucketSettingsDep
from cloudnexus.deps import RuntimeDep, SessionDep, SettingsDep, StorageDep
from cloudnexus.files.schemas import FileOut
from cloudnexus.idempotency.dependencies import Idempotent
from cloudnexus.idempotency.route import IdempotentRoute
from cloudnexus.limits import MAX_PARTS
from cloudnexus.runtime import run_blocking
from cloudnexus.schemas import error_responses
from cloudnexus.uploads.dependencies import LockedUploadDep, UploadDep
from cloudnexus.uploads.schemas import (
    PART_URLS_PER_RESPONSE,
    UploadComplete,
    UploadCreate,
    UploadOut,
)

_PART_WINDOW = (
    f"A multipart upload lists URLs for at most {PART_URLS_PER_RESPONSE} of the parts still to "
    "send, by part number. When more remain, `parts_truncated` is true and "
    "`next_part_number_marker` names the last part listed: GET /v1/uploads/{upload_id}"
    "?part_number_marker=N lists the URLs of the next parts after N.")
PartNumberMarker = Annotated[int, Query(
    ge=0, le=MAX_PARTS, description="List URLs only for parts numbered above this one (the "
                                 "previous response's `next_part_number_marker`)")]

router = APIRouter(tags=["uploads"], route_class=IdempotentRoute, dependencies=[
    Depends(require(WRITE, "write"))])


@router.post("/v1/buckets/{bucket}/uploads", status_code=201,
             responses=error_responses(400, 403, 404, 409, 413, 415),
             description="Start a presigned upload: one PUT (`url`, `headers`), or parts when "
                         f"the file is large. {_PART_WINDOW}")
async def create_upload(body: UploadCreate, bucket: BucketSettingsDep, principal: PrincipalDep,
                        db: SessionDep, runtime: RuntimeDep, _: Idempotent) -> UploadOut:
    """Start a presigned upload: one PUT, or parts when the file is large."""
    from cloudnexus.uploads.describe import start

    # One piece of blocking work (a sync route would take another trip to a worker thread to
    # check what it returns), the storage made there if it is not yet.
    return await run_blocking(runtime, lambda: start(
        db, runtime.storage, runtime.settings, bucket=bucket, request=body, principal=principal))


@router.get("/v1/uploads/{upload_id}", responses=error_responses(403, 404),
            description="An upload with the parts received so far (all of them) and fresh "
                        f"URLs for the rest, to resume after a crash. {_PART_WINDOW}")
def get_upload(upload: UploadDep, storage: StorageDep, settings: SettingsDep,
               part_number_marker: PartNumberMarker = 0) -> UploadOut:
    """An upload with the parts received so far and fresh URLs for the rest."""
    from cloudnexus.uploads.describe import describe

    return describe(storage, settings, upload, part_number_marker=part_number_marker)


@router.post("/v1/uploads/{upload_id}/complete",
             responses=error_responses(403, 404, 409, 422))
def complete_upload(upload: LockedUploadDep, db: SessionDep, storage: StorageDep,
                    body: UploadComplete | None = None) -> FileOut:
    """Check the stored object against the declaration and make the file ready."""
    from cloudnexus.files import service as files
    from cloudnexus.uploads import service

    file = service.complete(db, storage, upload=upload, parts=body.parts if body else None,
                            sha256=body.sha256 if body else None)
    return FileOut.from_model(file, files.public_url(storage, file))


@router.delete("/v1/uploads/{upload_id}", status_code=204,
               responses=error_responses(403, 404, 409))
def abort_upload(upload: LockedUploadDep, db: SessionDep, storage: StorageDep) -> Response:
    """Abort an upload: its bytes are discarded and its quota given back."""
    from cloudnexus.uploads import service

    service.abort(db, storage, upload=upload)
    return Response(status_code=204)
