"""/v1/signing-keys and /v1/tokens: an admin lets the workspace's backend delegate access."""

from fastapi import APIRouter, Depends, Response

from cloudnexus.auth.dependencies import Admin
from cloudnexus.db.sessions import reads_only
from cloudnexus.delegation.schemas import (
    SigningKeyCreate,
    SigningKeyCreated,
    SigningKeyList,
    SigningKeyOut,
    TokenCreate,
    TokenCreated,
)
from cloudnexus.deps import SessionDep
from cloudnexus.idempotency.dependencies import Idempotent
from cloudnexus.idempotency.route import IdempotentRoute
from cloudnexus.schemas import error_responses, parse_id


class SecretRoute(IdempotentRoute):
    withheld = frozenset({"secret", "token"})  # credentials are not kept for replays


router = APIRouter(tags=["delegated tokens"], route_class=SecretRoute)


@router.post("/v1/signing-keys", status_code=201, responses=error_responses(403, 409))
def create_signing_key(body: SigningKeyCreate, principal: Admin, db: SessionDep,
                       _: Idempotent) -> SigningKeyCreated:
    """Add a signing key; an HS256 key's secret is shown only in this response."""
    from cloudnexus.delegation import service

    key = service.create(db, workspace_id=principal.workspace_id, request=body)
    return SigningKeyCreated(**SigningKeyOut.model_validate(key).model_dump(), secret=key.secret)


@router.get("/v1/signing-keys", dependencies=[Depends(reads_only)],
            responses=error_responses(403))
def list_signing_keys(principal: Admin, db: SessionDep) -> SigningKeyList:
    """List the workspace's signing keys (never a secret)."""
    from cloudnexus.delegation import service

    keys = service.list_keys(db, workspace_id=principal.workspace_id)
    return SigningKeyList(items=[SigningKeyOut.model_validate(key) for key in keys])


@router.delete("/v1/signing-keys/{signing_key_id}", status_code=204,
               responses=error_responses(403, 404))
def delete_signing_key(signing_key_id: str, principal: Admin, db: SessionDep) -> Response:
    """Delete a signing key: every token it signed stops working at once."""
    from cloudnexus.delegation import service

    service.delete(db, workspace_id=principal.workspace_id,
                   key_id=parse_id(signing_key_id, "Signing key"))
    return Response(status_code=204)


@router.post("/v1/tokens", status_code=201, responses=error_responses(403, 409))
def create_token(body: TokenCreate, principal: Admin, db: SessionDep,
                 _: Idempotent) -> TokenCreated:
    """Mint a delegated token with the workspace's newest HS256 key."""
    from cloudnexus.delegation import service

    token, expires_at = service.mint(db, workspace_id=principal.workspace_id, request=body)
    return TokenCreated(token=token, expires_at=expires_at)
