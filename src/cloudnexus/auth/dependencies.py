"""The principal of a request, and the scope each route needs: written once, used everywhere."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloudnexus.auth.principal import Principal
from cloudnexus.auth.scopes import ADMIN, READ, WRITE, Scope
from cloudnexus.deps import SessionDep
from cloudnexus.errors import Forbidden

_bearer = HTTPBearer(auto_error=False, description="An API key: cnx_<key id>_<secret>")


def get_principal(
    db: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    from cloudnexus.auth import service  # SQLAlchemy is imported on first use, not at cold start

    return service.authenticate(db, token=credentials.credentials if credentials else None)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(scope: Scope) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def check_scope(principal: PrincipalDep) -> Principal:  # async: no thread hop
        if not principal.can(scope):
            raise Forbidden(f"This key lacks the '{scope}' scope")
        return principal

    return check_scope


Reader = Annotated[Principal, Depends(require(READ))]
Writer = Annotated[Principal, Depends(require(WRITE))]
Admin = Annotated[Principal, Depends(require(ADMIN))]
