"""The per-process resources: created lazily on first use, then reused across requests."""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import TYPE_CHECKING

from fastapi.concurrency import run_in_threadpool

from cloudnexus.config import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from cloudnexus.database_async import AsyncDatabase
    from cloudnexus.storage.base import Storage


class Runtime:
    """Holds the engine and the storage client; Lambda keeps them warm between invocations.

    Nothing is built at import or start-up, so a cold start pays only for what a request uses.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._session_factory: sessionmaker[Session] | None = None
        self._read_session_factory: sessionmaker[Session] | None = None
        self._storage: Storage | None = None
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())
        self._async_databases: dict[asyncio.AbstractEventLoop, AsyncDatabase] = {}
        self.schema_ready = False  # set by the health check once it has seen the schema ready

    @property
    def database_ready(self) -> bool:
        return self._session_factory is not None

    def database_slots(self) -> asyncio.Semaphore:
        """Requests that may use the database, at most one per pooled connection.

        They queue here, on the event loop, not in worker threads blocked on the pool: with
        every worker blocked, the requests holding the connections could never finish. One
        semaphore per event loop, as asyncio requires (uvicorn runs one; Mangum reuses one).
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            slots = self._slots.get(loop)
            if slots is None:
                slots = self._slots[loop] = asyncio.Semaphore(self.settings.pool_size)
        return slots

    async def async_database(self) -> AsyncDatabase | None:
        """PostgreSQL on this event loop, for the key check and file reads (None on SQLite).

        One per event loop, as asyncio connections require; those of loops that ended are
        closed when another loop first asks.
        """
        if not self.settings.uses_postgresql:
            return None
        loop = asyncio.get_running_loop()
        database = self._async_databases.get(loop)
        if database is None:
            # psycopg's import, and the password (Secrets Manager), stay off the event loop.
            database = await run_in_threadpool(self._new_async_database)
            with self._lock:
                self._abandon_ended_loops()
                database = self._async_databases.setdefault(loop, database)
        return database

    def _new_async_database(self) -> AsyncDatabase:
        from cloudnexus.database_async import AsyncDatabase

        return AsyncDatabase(self.settings.postgres_url(), size=self.settings.pool_size)

    def _abandon_ended_loops(self) -> None:
        for loop in [loop for loop in self._async_databases if loop.is_closed()]:
            self._async_databases.pop(loop).abandon()

    async def close_async_database(self) -> None:
        """Close this event loop's connections (at the app's shutdown)."""
        database = self._async_databases.pop(asyncio.get_running_loop(), None)
        if database is not None:
            await database.close()

    @property
    def session_factory(self) -> sessionmaker[Session]:
        return self._session_factories()[0]

    @property
    def read_session_factory(self) -> sessionmaker[Session]:
        """Sessions whose transactions only read (see database.reading_engine)."""
        return self._session_factories()[1]

    def _session_factories(self) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
        if self._session_factory is None or self._read_session_factory is None:
            with self._lock:
                if self._session_factory is None or self._read_session_factory is None:
                    from cloudnexus.database import (
                        create_db_engine,
                        create_session_factory,
                        reading_engine,
                    )

                    self._engine = create_db_engine(self.settings)
                    self._read_session_factory = create_session_factory(
                        reading_engine(self._engine))
                    self._session_factory = create_session_factory(self._engine)
        return self._session_factory, self._read_session_factory

    @property
    def engine(self) -> Engine:
        engine = self.session_factory.kw["bind"]
        return engine  # type: ignore[no-any-return]

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            with self._lock:
                if self._storage is None:
                    from cloudnexus.storage import create_storage

                    self._storage = create_storage(self.settings)
        return self._storage

    @property
    def storage_made(self) -> bool:
        """Whether the storage (for S3: boto3 and its client) is made already."""
        return self._storage is not None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        for database in self._async_databases.values():
            database.abandon()
        self._async_databases.clear()
