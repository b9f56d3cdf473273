"""The bucket named in the path, looked up in the caller's workspace (404 otherwise)."""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Path

from cloudnexus.auth.dependencies import PrincipalDep, check_covers
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


if TYPE_CHECKING:
    BucketDep = Annotated[Bucket, Depends(valid_bucket)]
else:
    BucketDep = Annotated[Any, Depends(valid_bucket)]
