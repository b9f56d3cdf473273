"""/v1/workspace: the caller's workspace with its usage and quota."""

from fastapi import APIRouter, Depends

from cloudnexus.auth.dependencies import AnyKey
from cloudnexus.db.sessions import reads_only
from cloudnexus.deps import SessionDep
from cloudnexus.schemas import error_responses
from cloudnexus.workspaces.schemas import WorkspaceOut

router = APIRouter(prefix="/v1/workspace", tags=["workspace"])


@router.get("", dependencies=[Depends(reads_only)], responses=error_responses(403))
def get_workspace(principal: AnyKey, db: SessionDep) -> WorkspaceOut:
    """The workspace of the calling key, with its usage and quota."""
    from cloudnexus.workspaces import service

    return WorkspaceOut.from_model(service.get(db, workspace_id=principal.workspace_id))
