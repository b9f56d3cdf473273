"""The upload named in the path, looked up in the caller's workspace (404 otherwise)."""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends

from cloudnexus.auth.dependencies import PrincipalDep
from cloudnexus.deps import SessionDep, parse_id

if TYPE_CHECKING:
    from cloudnexus.uploads.models import Upload


def valid_upload(upload_id: str, principal: PrincipalDep, db: SessionDep) -> "Upload":
    from cloudnexus.uploads import service

    return service.get(db, workspace_id=principal.workspace_id,
                       upload_id=parse_id(upload_id, "Upload"))


def locked_upload(upload_id: str, principal: PrincipalDep, db: SessionDep) -> "Upload":
    """The upload, its row locked until the request's transaction ends."""
    from cloudnexus.uploads import service

    return service.get(db, workspace_id=principal.workspace_id,
                       upload_id=parse_id(upload_id, "Upload"), lock=True)


if TYPE_CHECKING:
    UploadDep = Annotated[Upload, Depends(valid_upload)]
    LockedUploadDep = Annotated[Upload, Depends(locked_upload)]
else:
    UploadDep = Annotated[Any, Depends(valid_upload)]
    LockedUploadDep = Annotated[Any, Depends(locked_upload)]
