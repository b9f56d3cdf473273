"""The process's one pool of PostgreSQL connections (psycopg), which the ORM's engine and the
read API both draw on: at most DB_POOL_SIZE connections a process, one in a Lambda container.

Imported on the first request that needs PostgreSQL, never at cold start, and without
SQLAlchemy: a cold start's first read takes a connection from here alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, LiteralString

from psycopg import Connection, Cursor
from psycopg import errors as psycopg_errors
from psycopg.pq import TransactionStatus
from psycopg.rows import RowFactory, dict_row
from psycopg.types.json import set_json_loads
from psycopg.waiting import wait_async

from cloudnexus.config import Settings
from cloudnexus.db import connections
from cloudnexus.db.connections import (
    APPLICATION_NAME,
    CONNECT_TIMEOUT_SECONDS,
    POOL_RECYCLE_SECONDS,
    load_json,
)
from cloudnexus.errors import ServiceUnavailable
from cloudnexus.runtime import Runtime, run_blocking

POOL_WAIT_SECONDS = 10  # for a connection when all are in use
# How often an awaited statement's wait wakes meanwhile (psycopg's AsyncConnection's own).
WAKE_SECONDS = 0.1
PREPARE_AFTER = 2  # a statement's sends on a connection before it is prepared there
Row = dict[str, Any]


class PooledConnection(Connection[Any]):
    """A connection whose close() gives it back to its pool (which closes it for real when it
    is broken, inside a transaction, or old): SQLAlchemy's engine, which takes a connection
    for each checkout (NullPool), closes it at each checkin."""

    pool: Pool | None = None
    made: float = 0.0
    idle_since: float = 0.0
    _handlers: set[Callable[..., Any]]

    def add_notice_handler(self, callback: Callable[..., Any]) -> None:
        # SQLAlchemy adds its notice logger at each checkout: a connection it takes again
        # keeps the one it has rather than a longer list at every request.
        handlers = self.__dict__.setdefault("_handlers", set())
        if callback not in handlers:
            handlers.add(callback)
            super().add_notice_handler(callback)

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is None:
            super().close()
        else:
            pool.give_back(self)


class Pool:
    """At most `size` connections, taken by one thread at a time each. With `prepared`, a
    statement sent PREPARE_AFTER times on a connection is prepared there, and planned once:
    not behind RDS Proxy (which pins a connection that prepares a statement to its client)
    nor a pooler that hands a connection to another client between transactions."""

    def __init__(self, url: str, *, size: int, prepared: bool = False) -> None:
        self._url, self._prepared = url, prepared
        self._free = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[PooledConnection] = []  # the most recently used last: taken first

    @classmethod
    def from_settings(cls, settings: Settings) -> Pool:
        return cls(settings.postgres_url(), size=settings.pool_size,
                   prepared=settings.db_prepared_statements)

    def take(self) -> PooledConnection:
        """An idle connection that answers, or a new one; 503 when all stay in use."""
        if not self._free.acquire(timeout=POOL_WAIT_SECONDS):
            raise ServiceUnavailable("The database is busy; retry shortly")
        try:
            connection = self._idle_connection() or self._connect()
        except BaseException:
            self._free.release()
            raise
        connection.pool = self
        return connection

    def take_ready(self) -> PooledConnection | None:
        """An idle connection used within PING_AFTER_IDLE_SECONDS, at once, or None: no wait
        for a free one, no connect and no ping (what may run on the event loop)."""
        if not self._free.acquire(blocking=False):
            return None
        now = time.monotonic()
        with self._lock:
            ready = bool(self._idle) and _in_use_lately(self._idle[-1], now)
            connection = self._idle.pop() if ready else None
        if connection is None:
            self._free.release()
            return None
        connection.pool = self
        return connection

    def give_back(self, connection: PooledConnection) -> None:
        """Keep it for the next taker if it is idle and sound (no statement cut off midway,
        no transaction left open), in the ORM's mode (db.engine.send_together may have left
        it in autocommit); else close it."""
        try:
            if connection.broken or connection.closed or \
                    connection.info.transaction_status != TransactionStatus.IDLE or \
                    _to_recycle(connection, time.monotonic()):
                connection.close()
            else:
                if connection.autocommit:
                    connection.autocommit = False
                connection.idle_since = time.monotonic()
                with self._lock:
                    self._idle.append(connection)
        finally:
            self._free.release()

    def fetch(self, sql: LiteralString, params: Mapping[str, Any], *,
              at_most: int | None = None,
              row_factory: RowFactory[Any] | None = None) -> list[Any]:
        """The statement's rows (`at_most` of them), as dicts (or what `row_factory` makes;
        autocommit: no transaction), on a connection taken now."""
        connection = self.take()
        try:
            with _cursor(connection, row_factory) as cursor:
                cursor.execute(sql, params)
                return _rows(cursor, at_most)
        finally:
            connection.close()  # back to the pool, in the ORM's mode

    async def fetch_awaited(self, runtime: Runtime, sql: LiteralString,
                            params: Mapping[str, Any], *, at_most: int | None = None,
                            row_factory: RowFactory[Any] | None = None) -> list[Any]:
        """fetch(), called from the event loop: on a connection ready at once (take_ready),
        awaited there (fetch_ready); else (a connect, a ping or a wait for a free
        connection, which block) in a worker thread (runtime.run_blocking)."""
        connection = self.take_ready()
        if connection is None:
            return await run_blocking(runtime, lambda: self.fetch(
                sql, params, at_most=at_most, row_factory=row_factory))
        return await self.fetch_ready(connection, sql, params, at_most=at_most,
                                      row_factory=row_factory)

    async def fetch_ready(self, connection: PooledConnection, sql: LiteralString,
                          params: Mapping[str, Any], *, at_most: int | None = None,
                          row_factory: RowFactory[Any] | None = None) -> list[Any]:
        """fetch() on a connection taken ready, whose round trip the event loop awaits,
        serving other requests meanwhile: psycopg's own steps for the statement, awaited on
        the connection's socket as its AsyncCursor awaits them. A worker thread would wait
        instead, then take the GIL back from the loop, which under load costs more than
        the statement (docs/performance.md, "Awaited on the loop")."""
        try:
            with _cursor(connection, row_factory) as cursor:
                try:
                    # psycopg 3's Cursor.execute() without its wait (pinned: pyproject.toml).
                    await wait_async(cursor._execute_gen(sql, params),
                                     connection.pgconn.socket, interval=WAKE_SECONDS)
                except psycopg_errors._NO_TRACEBACK as exc:  # as execute()
                    raise exc.with_traceback(None) from None
                return _rows(cursor, at_most)
        finally:
            connection.close()  # back to the pool (closed if cut off midway: cancelled)

    def execute(self, sql: LiteralString, params: Mapping[str, Any]) -> None:
        """Run a statement in autocommit (a transaction of its own)."""
        connection = self.take()
        try:
            connection.autocommit = True
            connection.execute(sql, params)
        finally:
            connection.close()  # back to the pool, in the ORM's mode

    def close(self) -> None:
        """Close the idle connections (the process is ending)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.pool = None
            connection.close()

    def _idle_connection(self) -> PooledConnection | None:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                connection = self._idle.pop()
            now = time.monotonic()
            if _in_use_lately(connection, now) or (
                    not _to_recycle(connection, now) and _answers(connection)):
                return connection
            connection.close()

    def _connect(self) -> PooledConnection:
        connection = PooledConnection.connect(
            self._url, connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=APPLICATION_NAME,
            prepare_threshold=PREPARE_AFTER if self._prepared else None)
        # JSON columns through load_json, for the ORM and the read API alike (the engine's
        # json_deserializer reaches only connections the engine makes itself).
        set_json_loads(load_json, connection)
        connection.made = time.monotonic()
        return connection


def _cursor(connection: PooledConnection, row_factory: RowFactory[Any] | None) -> Cursor[Any]:
    """A cursor whose statements run in autocommit (a transaction each: set without I/O on an
    idle connection), its rows as dicts unless `row_factory` says otherwise."""
    connection.autocommit = True
    return connection.cursor(row_factory=row_factory or dict_row)


def _rows(cursor: Cursor[Any], at_most: int | None) -> list[Any]:
    return cursor.fetchall() if at_most is None else cursor.fetchmany(at_most)


def _to_recycle(connection: PooledConnection, now: float) -> bool:
    return now - connection.made >= POOL_RECYCLE_SECONDS


def _in_use_lately(connection: PooledConnection, now: float) -> bool:
    """Idle for less than PING_AFTER_IDLE_SECONDS, and not yet to be recycled: usable as it is."""
    return (now - connection.idle_since < connections.PING_AFTER_IDLE_SECONDS
            and not _to_recycle(connection, now))


def _answers(connection: PooledConnection) -> bool:
    """Ping a connection that sat idle: a Lambda that slept, or a database that restarted
    meanwhile, would otherwise fail the request that takes it."""
    try:
        connection.autocommit = True  # else the ping would open a transaction
        connection.execute("")
        connection.autocommit = False
    except Exception:  # noqa: BLE001 - any failure: make a new connection instead
        return False
    return True
