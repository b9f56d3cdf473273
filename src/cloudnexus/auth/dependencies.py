"""The principal of a request, and what each route needs of it: a key's scope, or a delegated
token's operation and grant. Written once, used by every route."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloudnexus.auth.grants import Operation
from cloudnexus.auth.lookup import authenticate
from cloudnexus.auth.principal import Principal
from cloudnexus.auth.scopes import ADMIN, READ, WRITE, Scope
from cloudnexus.errors import Forbidden, NotFound, bucket_not_found

_bearer = HTTPBearer(auto_error=False, description="An API key (cnx_<key id>_<secret>) or a "
                                                   "delegated token (a JWT)")


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = credentials.credentials if credentials else None
    if token is not None and token.count(".") == 2:  # a JWT; API keys have no dots
        from cloudnexus.delegation.verify import authenticate_token

        return await authenticate_token(request, token)
    return await authenticate(request, token=token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(scope: Scope, operation: Operation | None = None,
            ) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A key needs `scope`; a delegated token needs `operation` (a route without one is not
    for tokens at all). Which bucket and path a token covers is checked where the route's
    resource is looked up (`check_covers`)."""

    async def check_scope(principal: PrincipalDep) -> Principal:  # async: no thread hop
        if principal.grant is not None:
            if operation is None:
                await api_key_only(principal)
            elif not principal.grant.allows(operation):
                raise Forbidden(f"This token does not grant '{operation}'")
        elif not principal.can(scope):
            raise Forbidden(f"This key lacks the '{scope}' scope")
        return principal

    return check_scope


def check_covers(principal: Principal, *, bucket: str, path: str | None = None,
                 what: str = "File") -> None:
    """404 for a bucket, or a path in it, outside a token's grant: as if it did not exist."""
    if principal.grant is not None and not principal.grant.covers(bucket, path):
        raise bucket_not_found(bucket) if path is None else NotFound(f"{what} not found")


async def api_key_only(principal: PrincipalDep) -> Principal:
    """Any API key, whatever its scopes; no delegated token."""
    if principal.grant is not None:
        raise Forbidden("A delegated token cannot use this route; use an API key")
    return principal


AnyKey = Annotated[Principal, Depends(api_key_only)]
Reader = Annotated[Principal, Depends(require(READ))]
Writer = Annotated[Principal, Depends(require(WRITE))]
Admin = Annotated[Principal, Depends(require(ADMIN))]
