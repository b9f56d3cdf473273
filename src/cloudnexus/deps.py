"""Dependencies every router shares: runtime, settings, database session, storage."""


from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from cloudnexus.config import Settings
from cloudnexus.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cloudnexus.storage.base import Storage


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


# The dependencies below read the runtime off the request themselves rather than through
# RuntimeDep: FastAPI analyses every sub-dependency again for each route at import, and
# resolves it again on each request, so one level less is measurably faster at both.


def get_settings(request: Request) -> Settings:
    return get_runtime(request).settings


def get_session(request: Request) -> Iterator["Session"]:
    with get_runtime(request).session_factory() as session:
        yield session


class DeferredStorage:
    """The runtime's storage, made on first use: a route that may not touch storage (a file
    read in a private bucket) does not pay for importing boto3 and making a client."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime.storage, name)


def get_storage(request: Request) -> "Storage":
    return DeferredStorage(get_runtime(request))  # type: ignore[return-value]


SettingsDep = Annotated[Settings, Depends(get_settings)]
if TYPE_CHECKING:
    SessionDep = Annotated[Session, Depends(get_session)]
    StorageDep = Annotated[Storage, Depends(get_storage)]
else:  # FastAPI needs no class here, and importing SQLAlchemy at cold start would cost ~0.4 s
    SessionDep = Annotated[Any, Depends(get_session)]
    StorageDep = Annotated[Any, Depends(get_storage)]
