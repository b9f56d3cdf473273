"""PostgreSQL on the event loop, for the statements every request makes: the key check and a
file's record. No worker thread and no ORM: those cost a read more than its query does, and
SQLAlchemy's import is most of a cold start's first read. Everything else uses the ORM.

Imported on the first request that needs it, and only with PostgreSQL.

The connections are kept here rather than in psycopg_pool: its background workers belong to
the event loop that opened the pool, and a loop that ends without closing it (a test client
without a lifespan runs each request in a new loop) hung in its shutdown. These connections
are made and checked by the requests that take them, so a loop can end at any time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, LiteralString

from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from cloudnexus.db import connections
from cloudnexus.db.connections import (
    APPLICATION_NAME,
    CONNECT_TIMEOUT_SECONDS,
    POOL_RECYCLE_SECONDS,
    take_slot,
)

Row = dict[str, Any]


@dataclass
class _Idle:
    connection: AsyncConnection[Any]
    made: float
    since: float = field(default_factory=time.monotonic)


class AsyncDatabase:
    """At most `size` autocommit connections, for one event loop."""

    def __init__(self, url: str, *, size: int) -> None:
        self._url = url
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Idle] = []  # the most recently used last: it is the one taken

    async def fetch_one(self, sql: LiteralString, params: Mapping[str, Any]) -> Row | None:
        """The statement's first row, as a dict, or None."""
        async with self._connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(sql, params)
            return await cursor.fetchone()

    async def execute(self, sql: LiteralString, params: Mapping[str, Any]) -> None:
        async with self._connection() as connection:
            await connection.execute(sql, params)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        await take_slot(self._slots, CONNECT_TIMEOUT_SECONDS)
        try:
            idle = await self._take()
            try:
                yield idle.connection
            finally:
                # Kept only if it is idle again: not lost, and no statement cut off midway.
                if idle.connection.info.transaction_status == TransactionStatus.IDLE:
                    idle.since = time.monotonic()
                    self._idle.append(idle)
                else:
                    await idle.connection.close()
        finally:
            self._slots.release()

    async def _take(self) -> _Idle:
        while self._idle:
            idle = self._idle.pop()
            now = time.monotonic()
            if now - idle.made < POOL_RECYCLE_SECONDS and (
                    now - idle.since < connections.PING_AFTER_IDLE_SECONDS
                    or await _answers(idle.connection)):
                return idle
            await idle.connection.close()
        connection = await AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=APPLICATION_NAME,
            prepare_threshold=None)  # prepared statements would pin connections behind RDS Proxy
        return _Idle(connection, made=time.monotonic())

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().connection.close()

    def abandon(self) -> None:
        """Close the connections without an event loop (theirs has ended)."""
        while self._idle:
            self._idle.pop().connection.pgconn.finish()


async def _answers(connection: AsyncConnection[Any]) -> bool:
    """Ping a connection that sat idle (as the ORM's pool does; see db.engine): a Lambda
    that slept, or a database that restarted meanwhile, would otherwise fail the request."""
    try:
        await connection.execute("")
    except Exception:  # noqa: BLE001 - any failure: make a new connection instead
        return False
    return True
