"""What a route declares to get the runtime, the settings, a database session or storage."""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends

from cloudnexus.config import Settings
from cloudnexus.db.sessions import get_session
from cloudnexus.runtime import Runtime, get_runtime, get_settings, get_storage

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cloudnexus.storage.base import Storage

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
if TYPE_CHECKING:
    SessionDep = Annotated[Session, Depends(get_session)]
    StorageDep = Annotated[Storage, Depends(get_storage)]
else:  # FastAPI needs no class here, and importing SQLAlchemy at cold start would cost ~0.4 s
    SessionDep = Annotated[Any, Depends(get_session)]
    StorageDep = Annotated[Any, Depends(get_storage)]
