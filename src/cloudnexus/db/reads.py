"""The read API: one statement, written once, run on whichever database is configured.

It runs inside the request's database slot (db.sessions.database_slot). On PostgreSQL a
read that can start at once (an idle connection ready) is awaited on the event loop, which
serves other requests while the database answers (db.pool.Pool.fetch_awaited); one that
would connect, ping or wait for a connection goes to a worker thread. A trip to a worker
thread and back costs more than the read, and under load its thread and the loop pass the
GIL back and forth (docs/performance.md, "Awaited on the loop"). On PostgreSQL it takes a
connection of the process's one pool (db.pool) and runs with psycopg alone: no ORM, which
would cost a read more than its query does, and no SQLAlchemy, whose import is most of a
cold start's first read. On SQLite it runs through the ORM's engine,
typed by the tables' own column types. This is where reads tell the two apart (a plain
page of files also asks PostgreSQL for its JSON: files/listing.py); the key check, a file's
record, a bucket's settings and a signing key are read through it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, LiteralString, cast

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
    """The statement's first row, as a dict, or None (read already, when read_one_beside
    read it beside another in this request)."""
    already = getattr(request.state, _READ_ALREADY, None)
    if already:
        key = (query, _key_of(params))
        if key in already:
            return cast("Row | None", already[key])
    rows = await _read(request, query, params, at_most=1)
    return rows[0] if rows else None


async def read_one_beside(request: Request, query: Query, params: Mapping[str, Any],
                          beside: Query, beside_params: Mapping[str, Any], *,
                          shared: str) -> Row | None:
    """read_one(query, **params), and on PostgreSQL, in the same statement, what
    read_one(beside, **beside_params, shared=<the first row's `shared` column>) will answer
    later in this request: a read that a request makes next, one round trip less. On SQLite
    `query` alone (a read there is no round trip)."""
    runtime = runtime_of(request)
    if not runtime.settings.uses_postgresql:
        return await read_one(request, query, **params)
    rows = await _read(request, _beside(query, beside, shared), {
        **params, **{_BESIDE + name: value for name, value in beside_params.items()}},
        at_most=1, row_factory=_split)
    if not rows:
        return None
    row: Row
    beside_row: Row
    row, beside_row = rows[0]
    already = getattr(request.state, _READ_ALREADY, None)
    if already is None:
        already = {}
        setattr(request.state, _READ_ALREADY, already)
    key = _key_of({**beside_params, shared: row[shared]})
    already[(beside, key)] = beside_row if any(
        value is not None for value in beside_row.values()) else None
    return row


async def read_many(request: Request, query: Query, **params: Any) -> list[Row]:
    """The statement's rows, as dicts, for a statement whose rows are bounded (a LIMIT)."""
    return await _read(request, query, params, at_most=None)


async def _read(request: Request, query: Query, params: Mapping[str, Any], *,
                at_most: int | None, row_factory: Any = None) -> list[Any]:
    """The rows, as dicts (or, on PostgreSQL, what psycopg's `row_factory` makes)."""
    runtime = runtime_of(request)
    if not runtime.settings.uses_postgresql:
        # In a worker thread: SQLite's reads take a connection of its engine's own pool, which
        # can run out, and one waited for on the event loop would hold the requests that are
        # to give theirs back.
        return await in_session(request, lambda db: _rows(db, query, params, at_most))
    async with database_slot(request):
        pool = runtime.made_pool
        if pool is None:  # the first read: making the pool imports psycopg
            return await run_blocking(runtime, lambda: _pool(runtime).fetch(
                query.for_psycopg, params, at_most=at_most, row_factory=row_factory))
        return await pool.fetch_awaited(runtime, query.for_psycopg, params, at_most=at_most,
                                        row_factory=row_factory)


async def write(request: Request, query: Query, **params: Any) -> None:
    """Run a statement that writes, in a transaction of its own."""
    runtime = runtime_of(request)
    if runtime.settings.uses_postgresql:
        await in_slot(request, lambda: _pool(runtime).execute(query.for_psycopg, params))
        return
    await in_session(request, lambda db: _write(db, query, params), writes=True)


_READ_ALREADY = "read_already"  # request.state's: (query, parameters) -> row or None
_BESIDE = "beside_"  # the beside query's parameters, in the statement that reads both
_MARK = "beside"  # the column between the two queries' columns


def _key_of(params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


@functools.cache
def _beside(query: Query, beside: Query, shared: str) -> Query:
    """One statement reading `query`'s first row and, beside it, `beside`'s with its `shared`
    parameter taken from that row's column of the same name (PostgreSQL's LATERAL join)."""
    inner = _PARAMETER.sub(lambda match: f"q.{shared}" if match.group(1) == shared
                           else f":{_BESIDE}{match.group(1)}", beside.sql)
    # Built of the module constants' own texts, never of values (those stay parameters).
    return Query(f"SELECT q.*, NULL AS {_MARK}, r.* FROM ({query.sql}) q "  # noqa: S608 # nosec B608
                 f"LEFT JOIN LATERAL ({inner}) r ON true", tables=())


def _split(cursor: Any) -> Callable[[Sequence[Any]], tuple[Row, Row]]:
    """Rows of a _beside statement as the two rows it joins (psycopg's row factory). The
    names are read off the result as psycopg's dict_row reads them: `cursor.description`
    makes an object for each column, which took longer than the rest of the read."""
    result = cursor.pgresult
    names = [result.fname(index).decode() for index in range(result.nfields)]
    cut = names.index(_MARK)

    def split(values: Sequence[Any]) -> tuple[Row, Row]:
        return (dict(zip(names[:cut], values[:cut], strict=True)),
                dict(zip(names[cut + 1:], values[cut + 1:], strict=True)))

    return split


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
