"""The engine (one Lambda-friendly pool per process) and its sessions and transactions.

Imported on the first request that needs the database, never at cold start.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Insert,
    Result,
    create_engine,
    event,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from cloudnexus.config import Settings
from cloudnexus.db.connections import load_json
from cloudnexus.errors import Conflict, ServiceUnavailable

if TYPE_CHECKING:
    from cloudnexus.db.pool import Pool
    from cloudnexus.runtime import Runtime


def create_db_engine(settings: Settings, pool: Pool | None = None) -> Engine:
    """The engine; on PostgreSQL it takes its connections from `pool` (the process's one
    pool, db.pool), or from a pool of its own (a command, a test)."""
    url = make_url(settings.sqlalchemy_url())
    if url.get_backend_name() == "sqlite":
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True,
            json_deserializer=load_json, hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        writer = _OneWriter()
        event.listen(engine, "begin", writer.begin)
        event.listen(engine, "commit", writer.end)
        event.listen(engine, "rollback", writer.end)
        return engine
    if pool is None:
        from cloudnexus.db.pool import Pool  # psycopg: not for SQLite

        pool = Pool.from_settings(settings)
    engine = create_engine(
        url,
        # The pool is db.pool's, shared with the read API: each checkout takes one of its
        # connections, each checkin gives it back (PooledConnection.close).
        poolclass=NullPool,
        creator=pool.take,
        json_deserializer=load_json,
        # An error's message leaves out the statement's values (key hashes, paths, metadata):
        # it goes to the logs with the traceback of an unexpected error. (PostgreSQL's own
        # DETAIL line may still name a conflicting key; unique violations are 409s, caught.)
        hide_parameters=True,
    )
    _POOL_BEHIND[engine.pool] = pool
    return engine


# db.pool's pool behind each PostgreSQL engine's (its NullPool, which the engine's copies
# with other execution options share): fetch_at_once takes its connections there too.
_POOL_BEHIND: weakref.WeakKeyDictionary[Any, Pool] = weakref.WeakKeyDictionary()

# The execution option of an engine whose transactions only read (see reading_engine).
READS_ONLY = "cloudnexus_reads_only"
WRITER_WAIT_SECONDS = 30  # as long as SQLite's own busy timeout, for writers of other processes


def reading_engine(engine: Engine) -> Engine:
    """The same engine and pool, for work that never writes: on SQLite its transactions
    begin deferred, and read their snapshot beside the writer (WAL) instead of waiting for
    it; on PostgreSQL each statement runs on its own (autocommit: no BEGIN and COMMIT, two
    round trips that cost a read as much as its query), so statements of one session may
    see different snapshots."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{READS_ONLY: True})
    return engine.execution_options(**{READS_ONLY: True}, isolation_level="AUTOCOMMIT")


def writes_take_turns(db: Session) -> bool:
    """Whether this session's database writes one transaction at a time (SQLite), so that a
    writing transaction should hold no wait on anything else (storage, a client)."""
    return db.get_bind().dialect.name == "sqlite"


class _OneWriter:
    """SQLite's transactions, as its one writer allows them.

    A writing transaction begins IMMEDIATE: one that began deferred, read, and then wrote
    would be refused at once ("database is locked", without the busy handler) whenever
    another had written since its read. And the writers of this process take their turn on
    a lock here first, handed on the moment a transaction ends, rather than in SQLite's busy
    handler, which polls with sleeps of up to 100 ms (most of the tail of a burst of
    uploads). Writers of other processes (the CLI, maintenance) still meet in the busy
    handler. A reading transaction (reading_engine) takes neither."""

    def __init__(self) -> None:
        self._turn = threading.Lock()
        # The connection whose transaction has the turn, and what gives it back: called when
        # the transaction ends, or when the connection is collected without ending it.
        self._holders: weakref.WeakKeyDictionary[Connection, Callable[[], object]] = (
            weakref.WeakKeyDictionary())

    def begin(self, connection: Connection) -> None:
        if connection.get_execution_options().get(READS_ONLY):
            connection.exec_driver_sql("BEGIN")
            return
        if not self._turn.acquire(timeout=WRITER_WAIT_SECONDS):
            raise ServiceUnavailable("The database is busy; retry shortly")
        self._holders[connection] = weakref.finalize(connection, self._turn.release)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self.end(connection)
            raise

    def end(self, connection: Connection) -> None:
        give_back = self._holders.pop(connection, None)
        if give_back is not None:
            give_back()


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver; we issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def rows_matched(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched. Executing one returns a CursorResult, which
    Session.execute is typed to return as its base class, Result, that has no rowcount."""
    return cast("CursorResult[Any]", result).rowcount


def save_unique(db: Session, conflict: str, *, commit: bool = True) -> None:
    """Commit (or flush); a unique-constraint violation rolls back and becomes 409 `conflict`."""
    try:
        if commit:
            db.commit()
        else:
            db.flush()
    except IntegrityError:
        db.rollback()
        raise Conflict(conflict) from None


def insert_unique(db: Session, statement: Insert, row: dict[str, Any], conflict: str) -> None:
    """Insert `row` in the session's transaction, as Core (no unit of work); a
    unique-constraint violation rolls back and becomes 409 `conflict`."""
    try:
        db.connection().execute(statement, row)
    except IntegrityError:
        db.rollback()
        raise Conflict(conflict) from None


def fetch_at_once(db: Session, statement: ClauseElement,
                  params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The first row of a prebuilt statement run on PostgreSQL as a transaction of its own
    (autocommit), sent by psycopg alone on a connection of the pool behind the session's
    engine: compiled once, each value converted by its column's type as SQLAlchemy would.
    For a hot statement whose execution through SQLAlchemy costs more Python than the
    statement (docs/performance.md, "One statement for a single PUT's start"): no session
    connection is checked out, set to autocommit, committed and checked in. The session must
    have no transaction open, whose locks the statement could wait on. Errors are
    SQLAlchemy's, as for any statement."""
    pool, sql, values = _beside_session(db, statement, params)
    from psycopg.rows import tuple_row

    with _as_sqlalchemy_error(sql):
        return _first(pool.fetch(sql, values, at_most=1, row_factory=tuple_row))


async def fetch_at_once_awaited(runtime: Runtime, db: Session, statement: ClauseElement,
                                params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """fetch_at_once(), called from the event loop: awaited there when a connection is ready
    (db.pool.Pool.fetch_awaited)."""
    pool, sql, values = _beside_session(db, statement, params)
    from psycopg.rows import tuple_row

    with _as_sqlalchemy_error(sql):
        return _first(await pool.fetch_awaited(runtime, sql, values, at_most=1,
                                               row_factory=tuple_row))


def _beside_session(db: Session, statement: ClauseElement,
                    params: Mapping[str, Any]) -> tuple[Pool, str, dict[str, Any]]:
    """The pool behind the session's engine, and the statement ready to send there."""
    if db.in_transaction():
        raise ValueError("fetch_at_once runs beside the session: end its transaction first")
    engine = cast(Engine, db.get_bind())
    return (_POOL_BEHIND[engine.pool], *_ready(statement, params, engine.dialect))


@contextmanager
def _as_sqlalchemy_error(sql: str) -> Iterator[None]:
    from psycopg import Error

    try:
        yield
    except Error as exc:
        raise DBAPIError.instance(sql, None, exc, Error, hide_parameters=True) from exc


def _first(rows: list[Any]) -> tuple[Any, ...] | None:
    return cast("tuple[Any, ...] | None", rows[0]) if rows else None


Sent = tuple[int, list[tuple[Any, ...]]]  # a statement's rowcount and rows


def send_together(db: Session, statements: Sequence[tuple[ClauseElement, Mapping[str, Any]]]
                  ) -> list[Sent]:
    """Statements of the session's transaction sent at once on PostgreSQL (psycopg's
    pipeline mode): one round trip for them all (and the transaction's BEGIN), where each
    would take its own. Each one's rowcount and rows. Compiled and converted as for
    fetch_at_once. An error is SQLAlchemy's, the transaction left to roll back.

    psycopg sends the BEGIN it opens a transaction with on its own and waits for its answer
    before the first statement of a pipeline: a round trip of its own. When the transaction
    starts here, the connection goes to autocommit and the BEGIN into the pipeline instead;
    the transaction stays open until the session ends it (psycopg's commit and rollback
    end an open one in either mode), and the pool puts the connection back in the ORM's mode
    (db.pool)."""
    connection = db.connection()
    ready = [_ready(statement, params, connection.dialect) for statement, params in statements]
    driver: Any = connection.connection.driver_connection
    from psycopg.pq import TransactionStatus

    begins = not driver.autocommit and \
        driver.info.transaction_status == TransactionStatus.IDLE
    with _as_sqlalchemy_error("; ".join(sql for sql, _ in ready)):
        cursors = []
        if begins:
            driver.autocommit = True
        with driver.pipeline():
            if begins:
                driver.execute("BEGIN", prepare=False)
            for sql, values in ready:
                cursor = driver.cursor()
                send(cursor, sql, values)
                cursors.append(cursor)
        sent = []
        for cursor in cursors:
            with cursor:
                sent.append((cursor.rowcount,
                             cursor.fetchall() if cursor.description is not None else []))
        return sent


def _ready(statement: ClauseElement, params: Mapping[str, Any],
           dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """The statement's SQL and its values, converted by their types."""
    sql, defaults, converters = _compiled(statement, dialect, frozenset(params))
    values = {**defaults, **params}
    for name, convert in converters:
        values[name] = convert(values[name])
    return sql, values


def send(cursor: Any, sql: str, values: Mapping[str, Any]) -> None:
    """Send a statement on a psycopg cursor (tests count what passes here)."""
    cursor.execute(sql, values)


@functools.cache
def _compiled(statement: ClauseElement, dialect: Dialect, keys: frozenset[str]
              ) -> tuple[str, dict[str, Any], tuple[tuple[str, Callable[[Any], Any]], ...]]:
    """The statement's SQL for `dialect` and parameters named `keys` (as SQLAlchemy compiles
    an INSERT or UPDATE for the columns given), the values of the parameters it binds
    itself, and the converters of those whose type has one (JSON's, for one). Every column
    it writes must be given (no Python-side defaults or onupdate)."""
    # (Only for an INSERT or UPDATE itself: within a SELECT they would be taken as columns
    # to set by each INSERT or UPDATE of its WITH.)
    compiled = cast(SQLCompiler, statement.compile(
        dialect=dialect, column_keys=sorted(keys) if statement.is_dml else None))
    defaulted = [column.name for column in (*compiled.insert_prefetch,
                                            *compiled.update_prefetch)]
    if defaulted:
        raise ValueError(f"columns given no value take Python-side defaults ({defaulted}): "
                         "SQLAlchemy's execution computes them, psycopg alone would send none")
    converters = []
    for name, bind in compiled.binds.items():
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            converters.append((name, convert))
    defaults = {name: bind.value for name, bind in compiled.binds.items()
                if bind.value is not None or not bind.required}
    return str(compiled), defaults, tuple(converters)


def create_session_factory(engine: Engine, info: dict[str, Any] | None = None
                           ) -> sessionmaker[Session]:
    """Sessions on `engine`; each starts with a copy of `info` as its `Session.info`."""
    # Every model, whatever the first request: a flush orders tables by their foreign keys and
    # fails on one whose model was never imported (a cold start's first POST /v1/buckets did).
    import cloudnexus.models  # noqa: F401

    return sessionmaker(engine, expire_on_commit=False, info=info)
