"""/v1/buckets/{bucket}/uploads and /v1/uploads/{id}: presigned single and multipart uploads."""

from fastapi import APIRouter, Depends, Response

from cloudnexus.auth.dependencies import require
from cloudnexus.auth.scopes import WRITE
from cloudnexus.buckets.dependencies import BucketDep
from cloudnexus.deps import SessionDep, SettingsDep, StorageDep
from cloudnexus.files.schemas import FileOut
from cloudnexus.idempotency.dependencies import Idempotent
from cloudnexus.idempotency.route import IdempotentRoute
from cloudnexus.schemas import error_responses
from cloudnexus.uploads.dependencies import LockedUploadDep, UploadDep
from cloudnexus.uploads.schemas import UploadComplete, UploadCreate, UploadOut

router = APIRouter(tags=["uploads"], route_class=IdempotentRoute, dependencies=[
    Depends(require(WRITE))])


@router.post("/v1/buckets/{bucket}/uploads", status_code=201,
             responses=error_responses(400, 403, 404, 409, 413, 415))
def create_upload(body: UploadCreate, bucket: BucketDep, db: SessionDep, storage: StorageDep,
                  settings: SettingsDep, _: Idempotent) -> UploadOut:
    """Start a presigned upload: one PUT, or parts when the file is large."""
    from cloudnexus.uploads import service

    upload = service.create(db, storage, settings, bucket=bucket, request=body)
    return service.describe(storage, settings, upload, just_created=True)


@router.get("/v1/uploads/{upload_id}", responses=error_responses(403, 404))
def get_upload(upload: UploadDep, storage: StorageDep, settings: SettingsDep) -> UploadOut:
    """An upload with the parts received so far and fresh URLs for the rest."""
    from cloudnexus.uploads import service

    return service.describe(storage, settings, upload)


@router.post("/v1/uploads/{upload_id}/complete",
             responses=error_responses(403, 404, 409, 422))
def complete_upload(upload: LockedUploadDep, db: SessionDep, storage: StorageDep,
                    body: UploadComplete | None = None) -> FileOut:
    """Check the stored object against the declaration and make the file ready."""
    from cloudnexus.files import service as files
    from cloudnexus.uploads import service

    file = service.complete(db, storage, upload=upload, parts=body.parts if body else None)
    return FileOut.from_model(file, files.public_url(storage, file))


@router.delete("/v1/uploads/{upload_id}", status_code=204,
               responses=error_responses(403, 404, 409))
def abort_upload(upload: LockedUploadDep, db: SessionDep, storage: StorageDep) -> Response:
    """Abort an upload: its bytes are discarded and its quota given back."""
    from cloudnexus.uploads import service
    from cloudnexus.uploads.models import ABORTED

    service.finish(db, storage, upload=upload, status=ABORTED)
    return Response(status_code=204)
