"""The per-process resources: created lazily on first use, then reused across requests."""

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request

from cloudnexus.config import Settings

T = TypeVar("T")

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from cloudnexus.db.pool import Pool
    from cloudnexus.storage.base import Storage


class Runtime:
    """Holds the engine and the storage client; Lambda keeps them warm between invocations.

    Nothing is built at import or start-up, so a cold start pays only for what a request uses.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # A Lambda container serves one request at a time (see run_blocking).
        self.one_request_at_a_time = settings.in_lambda
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._session_factory: sessionmaker[Session] | None = None
        self._read_session_factory: sessionmaker[Session] | None = None
        self._storage: Storage | None = None
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())
        self._pool: Pool | None = None
        self.schema_ready = False  # set by the health check once it has seen the schema ready
        # (monotonic time, latency in ms) of the health check's last good answer of the storage
        self.storage_seen_ok: tuple[float, float] | None = None

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

    @property
    def postgres_pool(self) -> "Pool | None":
        """The process's one pool of PostgreSQL connections (None on SQLite): the engine and
        the read API (db.reads) both draw on it. Made on first use, in a worker thread (its
        import, and the password from Secrets Manager, stay off the event loop)."""
        if not self.settings.uses_postgresql:
            return None
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    from cloudnexus.db.pool import Pool

                    self._pool = Pool.from_settings(self.settings)
        return self._pool

    @property
    def made_pool(self) -> "Pool | None":
        """The pool if it is made already (so that using it imports nothing)."""
        return self._pool

    @property
    def session_factory(self) -> "sessionmaker[Session]":
        return self._session_factories()[0]

    @property
    def read_session_factory(self) -> "sessionmaker[Session]":
        """Sessions whose transactions only read (see db.engine.reading_engine)."""
        return self._session_factories()[1]

    def _session_factories(self) -> "tuple[sessionmaker[Session], sessionmaker[Session]]":
        if self._session_factory is None or self._read_session_factory is None:
            pool = self.postgres_pool  # before the lock, which making the pool takes too
            with self._lock:
                if self._session_factory is None or self._read_session_factory is None:
                    from cloudnexus.db.engine import (
                        create_db_engine,
                        create_session_factory,
                        reading_engine,
                    )

                    self._engine = create_db_engine(self.settings, pool)
                    self._read_session_factory = create_session_factory(
                        reading_engine(self._engine))
                    # The writers' sessions carry the settings, for what runs after their
                    # commits (events.queue: the nudge of the AWS dispatcher).
                    self._session_factory = create_session_factory(
                        self._engine, info={"settings": self.settings})
        return self._session_factory, self._read_session_factory

    @property
    def engine(self) -> "Engine":
        engine: Engine = self.session_factory.kw["bind"]
        return engine

    @property
    def storage(self) -> "Storage":
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

    def close_connections(self) -> None:
        """Close the idle database connections (at the app's shutdown); more are made if a
        request comes after all."""
        if self._pool is not None:
            self._pool.close()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self.close_connections()

def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# The dependencies are `async def`: FastAPI runs a plain `def` dependency in a worker thread,
# and each such hop costs more than the work itself. Each reads the runtime off the request
# rather than through a dependency on get_runtime: FastAPI analyses every sub-dependency
# again for each route at import, and resolves it again on each request, so one level less
# is measurably faster at both.


async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


async def get_settings(request: Request) -> Settings:
    return runtime_of(request).settings


class DeferredStorage:
    """The runtime's storage, made on first use: a route that may not touch storage (a file
    read in a private bucket) does not pay for importing boto3 and making a client."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime.storage, name)


async def get_storage(request: Request) -> "Storage":
    return DeferredStorage(runtime_of(request))


async def run_blocking(runtime: Runtime, work: Callable[..., T], *args: Any,
                       **kwargs: Any) -> T:
    """Blocking work (the ORM's, the storage's) in a worker thread, so that the event loop
    serves other requests meanwhile; in a Lambda container, which serves one request at a
    time, right here: there a worker thread would be started for this invocation alone
    (anyio ends a loop's workers with the invocation's task), and nothing waits for the loop."""
    if runtime.one_request_at_a_time:
        return work(*args, **kwargs)
    return await run_in_threadpool(work, *args, **kwargs)


async def signed_with(runtime: Runtime, work: "Callable[[Storage], T]") -> T:
    """`work` that only signs or builds a URL with the storage (a little CPU, no I/O): on the
    event loop once the storage is made, as a trip to a worker thread costs more than the
    signing; the first time in a worker thread, since making it may import boto3."""
    if runtime.storage_made:
        return work(runtime.storage)
    return await run_blocking(runtime, lambda: work(runtime.storage))
