"""/v1/keys: an admin manages the workspace's keys."""

from fastapi import APIRouter, Depends, Response

from cloudnexus.auth.dependencies import Admin
from cloudnexus.auth.schemas import KeyCreate, KeyCreated, KeyList, KeyOut
from cloudnexus.db.sessions import reads_only
from cloudnexus.deps import SessionDep
from cloudnexus.idempotency.dependencies import Idempotent
from cloudnexus.idempotency.route import IdempotentRoute
from cloudnexus.schemas import error_responses, parse_id


class KeyRoute(IdempotentRoute):
    withheld = frozenset({"key"})  # only a hash of the secret is stored, here too


router = APIRouter(prefix="/v1/keys", tags=["keys"], route_class=KeyRoute)


@router.post("", status_code=201, responses=error_responses(403, 409))
def create_key(body: KeyCreate, principal: Admin, db: SessionDep,
               _: Idempotent) -> KeyCreated:
    """Create a key; the response is the only time the full key is shown."""
    from cloudnexus.auth import service

    key, full_key = service.create(db, workspace_id=principal.workspace_id, name=body.name,
                                   scopes=body.scopes, expires_at=body.expires_at)
    return KeyCreated(**KeyOut.model_validate(key).model_dump(), key=full_key)


@router.get("", dependencies=[Depends(reads_only)], responses=error_responses(403))
def list_keys(principal: Admin, db: SessionDep) -> KeyList:
    """List the workspace's keys, revoked ones included (never their secrets)."""
    from cloudnexus.auth import service

    keys = service.list_keys(db, workspace_id=principal.workspace_id)
    return KeyList(items=[KeyOut.model_validate(key) for key in keys])


@router.delete("/{key_id}", status_code=204, responses=error_responses(403, 404))
def revoke_key(key_id: str, principal: Admin, db: SessionDep) -> Response:
    """Revoke a key; it stops working at once."""
    from cloudnexus.auth import service

    service.revoke(db, workspace_id=principal.workspace_id, key_id=parse_id(key_id, "API key"))
    return Response(status_code=204)
