"""The upload named in the path, looked up in the caller's workspace (404 otherwise)."""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends

from cloudnexus.auth.dependencies import PrincipalDep, check_covers
from cloudnexus.auth.principal import Principal
from cloudnexus.deps import SessionDep
from cloudnexus.schemas import parse_id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cloudnexus.uploads.models import Upload


def valid_upload(upload_id: str, principal: PrincipalDep, db: SessionDep) -> "Upload":
    return _upload(upload_id, principal, db, lock=False)


def locked_upload(upload_id: str, principal: PrincipalDep, db: SessionDep) -> "Upload":
    """The upload, its row locked until the request's transaction ends."""
    return _upload(upload_id, principal, db, lock=True)


def _upload(upload_id: str, principal: Principal, db: "Session", *, lock: bool) -> "Upload":
    from cloudnexus.uploads import service

    upload = service.get(db, workspace_id=principal.workspace_id,
                         upload_id=parse_id(upload_id, "Upload"), lock=lock)
    check_covers(principal, bucket=upload.bucket.name, path=upload.path, what="Upload")
    return upload


if TYPE_CHECKING:
    UploadDep = Annotated[Upload, Depends(valid_upload)]
    LockedUploadDep = Annotated[Upload, Depends(locked_upload)]
else:
    UploadDep = Annotated[Any, Depends(valid_upload)]
    LockedUploadDep = Annotated[Any, Depends(locked_upload)]
