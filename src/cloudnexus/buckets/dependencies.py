"""The bucket named in the path, looked up in the caller's workspace (404 otherwise)."""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Path, Request

from cloudnexus.auth.dependencies import PrincipalDep, check_covers
from cloudnexus.buckets.reads import BucketSettings, read_bucket
from cloudnexus.deps import RuntimeDep, SessionDep
from cloudnexus.runtime import run_blocking

if TYPE_CHECKING:
    from cloudnexus.buckets.models import Bucket


async def valid_bucket(
    bucket: Annotated[str, Path(description="The bucket's name")],
    principal: PrincipalDep,
    db: SessionDep,
    runtime: RuntimeDep,
) -> "Bucket":
    from cloudnexus.buckets import service

    check_covers(principal, bucket=bucket)
    return await run_blocking(runtime, service.get, db, workspace_id=principal.workspace_id,
                              name=bucket)


async def bucket_settings(
    bucket: Annotated[str, Path(description="The bucket's name")],
    principal: PrincipalDep,
    request: Request,
) -> BucketSettings:
    """The bucket's settings alone, for a route that only reads (no ORM session for it)."""
    check_covers(principal, bucket=bucket)
    return await read_bucket(request, workspace_id=principal.workspace_id, name=bucket)


BucketSettingsDep = Annotated[BucketSettings, Depends(bucket_settings)]
if TYPE_CHECKING:
    BucketDep = Annotated[Bucket, Depends(valid_bucket)]
else:
    BucketDep = Annotated[Any, Depends(valid_bucket)]
