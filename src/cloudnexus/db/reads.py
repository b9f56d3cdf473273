"""The read API: one statement, written once, run on whichever database is configured.

It runs inside the request's database slot (db.sessions.database_slot), on PostgreSQL on
the event loop when it can start at once (an idle connection ready), else in a worker
thread. A read of one statement cannot wait on a lock, and its round trip costs less than a
trip to a worker thread and back (docs/performance.md, "Work on the event loop"). On
PostgreSQL it takes a connection of the process's one pool (db.pool) and runs with psycopg
alone: no ORM, which would cost a read more than its query does, and no SQLAlchemy, whose
import is most of a cold start's first read. On SQLite it runs through the ORM's engine,
typed by the tables' own column types. This is the one place that tells the two apart; the
key check, a file's record, a bucket's settings and a signing key are read through it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, LiteralString

from starlette.requests import Request

from cloudnexus.db.sessions import database_slot, in_session, in_slot
from cloudnexus.runtime import Runtime, run_blocking, runtime_of

if TYPE_CHECKING:
    from sqlalchemy import TextualSelect
    from sqlalchemy.orm import Session

    from cloudnexus.db.pool import Pool

Row = dict[str, Any]
_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


@dataclass(frozen=True)
class Query:
    """A statement with `:name` parameters. The parameters and the result's columns take the
    types of the columns of the same name in `tables` (the first that has one), or of the
    `table.column` that `typed_as` names for them."""

    sql: str
    tables: tuple[str, ...]
    typed_as: tuple[tuple[str, str], ...] = ()

    @functools.cached_property
    def for_psycopg(self) -> LiteralString:
        """The statement with psycopg's `%(name)s` parameters (a module constant's text)."""
        return _PARAMETER.sub(r"%(\1)s", self.sql)


async def read_one(request: Request, query: Query, **params: Any) -> Row | None:
    """The statement's first row, as a dict, or None."""
    rows = await _read(request, query, params, at_most=1)
    return rows[0] if rows else None


async def read_many(request: Request, query: Query, **params: Any) -> list[Row]:
    """The statement's rows, as dicts. For a statement whose rows are bounded (a LIMIT): on
    PostgreSQL it may run on the event loop, as read_one."""
    return await _read(request, query, params, at_most=None)


async def _read(request: Request, query: Query, params: Mapping[str, Any], *,
                at_most: int | None) -> list[Row]:
    runtime = runtime_of(request)
    if not runtime.settings.uses_postgresql:
        # In a worker thread: SQLite's reads take a connection of its engine's own pool, which
        # can run out, and one waited for on the event loop would hold the requests that are
        # to give theirs back.
        return await in_session(request, lambda db: _rows(db, query, params, at_most))
    async with database_slot(request):
        pool = runtime.made_pool
        ready = pool.take_ready() if pool is not None else None
        if pool is not None and ready is not None:
            return pool.fetch(query.for_psycopg, params, ready, at_most=at_most)
        return await run_blocking(runtime, lambda: _pool(runtime).fetch(
            query.for_psycopg, params, at_most=at_most))


async def write(request: Request, query: Query, **params: Any) -> None:
    """Run a statement that writes, in a transaction of its own."""
    runtime = runtime_of(request)
    if runtime.settings.uses_postgresql:
        await in_slot(request, lambda: _pool(runtime).execute(query.for_psycopg, params))
        return
    await in_session(request, lambda db: _write(db, query, params), writes=True)


def _pool(runtime: Runtime) -> Pool:
    pool = runtime.postgres_pool
    if pool is None:
        raise RuntimeError("not on PostgreSQL")
    return pool


def _rows(db: Session, query: Query, params: Mapping[str, Any],
          at_most: int | None) -> list[Row]:
    result = db.execute(_typed(query, frozenset(params)), params).mappings()
    return [dict(row) for row in (result.all() if at_most is None else result.fetchmany(at_most))]


def _write(db: Session, query: Query, params: Mapping[str, Any]) -> None:
    db.execute(_typed(query, frozenset(params)), params)
    db.commit()


@functools.cache
def _typed(query: Query, parameters: frozenset[str]) -> TextualSelect:
    """The statement for SQLAlchemy, its parameters and result columns typed."""
    from sqlalchemy import bindparam, text

    from cloudnexus.models import Base

    tables = [Base.metadata.tables[name] for name in query.tables]
    types = {column.name: column.type for table in reversed(tables) for column in table.c}
    for name, column in query.typed_as:
        table, _, column_name = column.partition(".")
        types[name] = Base.metadata.tables[table].c[column_name].type
    statement = text(query.sql).bindparams(
        *(bindparam(name, type_=types[name]) for name in sorted(parameters) if name in types))
    return statement.columns(**types)
