"""The principal of a request, and the scope each route needs: written once, used everywhere."""

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloudnexus.auth.principal import Principal
from cloudnexus.auth.scopes import ADMIN, READ, WRITE, Scope
from cloudnexus.deps import in_session, runtime_of
from cloudnexus.errors import Forbidden

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_bearer = HTTPBearer(auto_error=False, description="An API key: cnx_<key id>_<secret>")


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = credentials.credentials if credentials else None
    runtime = runtime_of(request)
    database = await runtime.async_database()
    if database is not None:  # PostgreSQL: on the event loop
        from cloudnexus.auth.lookup import authenticate

        return await authenticate(database, token=token)
    return await in_session(request, lambda db: _authenticate(db, token))


def _authenticate(db: "Session", token: str | None) -> Principal:
    from cloudnexus.auth import service  # SQLAlchemy is imported on first use, in this thread

    return service.authenticate(db, token=token)


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
