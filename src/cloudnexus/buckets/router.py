"""/v1/buckets: named containers with their own rules."""

from fastapi import APIRouter, Depends, Response

from cloudnexus.auth.dependencies import Admin, Reader, require
from cloudnexus.auth.scopes import ADMIN, READ
from cloudnexus.buckets.dependencies import BucketDep
from cloudnexus.buckets.schemas import BucketCreate, BucketList, BucketOut, BucketUpdate
from cloudnexus.db.sessions import reads_only
from cloudnexus.deps import SessionDep, SettingsDep, StorageDep
from cloudnexus.idempotency.dependencies import Idempotent
from cloudnexus.idempotency.route import IdempotentRoute
from cloudnexus.schemas import error_responses

router = APIRouter(prefix="/v1/buckets", tags=["buckets"], route_class=IdempotentRoute)
# Scope checks run before the bucket lookup, so a key without the scope learns nothing.
reader = [Depends(require(READ))]
admin = [Depends(require(ADMIN))]


@router.post("", status_code=201, responses=error_responses(403, 409))
def create_bucket(body: BucketCreate, principal: Admin, db: SessionDep, settings: SettingsDep,
                  _: Idempotent) -> BucketOut:
    """Create a bucket; names are unique in the workspace."""
    from cloudnexus.buckets import service

    bucket = service.create(db, workspace_id=principal.workspace_id, **body.model_dump(),
                            public_buckets=settings.public_buckets)
    return BucketOut.from_model(bucket)


@router.get("", dependencies=[Depends(reads_only)], responses=error_responses(403))
def list_buckets(principal: Reader, db: SessionDep) -> BucketList:
    """List the workspace's buckets."""
    from cloudnexus.buckets import service

    buckets = service.list_buckets(db, workspace_id=principal.workspace_id)
    return BucketList(items=[BucketOut.from_model(bucket) for bucket in buckets])


@router.get("/{bucket}", dependencies=[*reader, Depends(reads_only)],
            responses=error_responses(403, 404))
def get_bucket(bucket: BucketDep) -> BucketOut:
    """A bucket with its usage."""
    return BucketOut.from_model(bucket)


@router.patch("/{bucket}", dependencies=admin, responses=error_responses(403, 404, 409))
def update_bucket(body: BucketUpdate, bucket: BucketDep, db: SessionDep,
                  settings: SettingsDep) -> BucketOut:
    """Change a bucket's rules; only the fields given change."""
    from cloudnexus.buckets import service

    changes = body.model_dump(include=body.model_fields_set)
    return BucketOut.from_model(service.update(db, bucket=bucket, changes=changes,
                                               public_buckets=settings.public_buckets))


@router.delete("/{bucket}", status_code=204, dependencies=admin,
               responses=error_responses(403, 404, 409))
def delete_bucket(bucket: BucketDep, db: SessionDep, storage: StorageDep,
                  force: bool = False) -> Response:
    """Delete a bucket; 409 while it holds files unless force=true, which deletes them too."""
    from cloudnexus.buckets import service

    service.delete(db, storage, bucket=bucket, force=force)
    return Response(status_code=204)
