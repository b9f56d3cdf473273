"""Listing a bucket: filters, sorts and keyset pagination whose cost does not grow with depth.

Every sort is `(sort column, id)`, served by an index that starts with `bucket_id`; the cursor
carries the last row's pair, and the next page is "after that pair" in the same order.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, Select, func, select, true, tuple_
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from cloudnexus.db.reads import Query, read_many
from cloudnexus.errors import BadRequest
from cloudnexus.files.conditions import (
    contains,
    content_type_matches,
    has_tag,
    path_range,
    starts_with,
)
from cloudnexus.files.models import READY, File
from cloudnexus.files.paths import search_key
from cloudnexus.files.schemas import FilePage
from cloudnexus.files.search import FILE_TRIGRAMS, least_common_trigram, rare_trigrams
from cloudnexus.runtime import run_blocking, runtime_of
from cloudnexus.schemas import MAX_BIGINT, is_storable
from cloudnexus.storage.base import Storage
from cloudnexus.storage.keys import object_key


class Bucket(Protocol):
    """What a listing reads of its bucket: its model, or its settings (buckets.reads)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def public(self) -> bool: ...


SORT_COLUMNS = {"path": File.path, "created_at": File.created_at, "size": File.size}
# What a page shows of each file (FileOut) and its object's key, as plain rows: loading 101
# ORM objects took more Python than the query and the page's serialisation together
# (docs/performance.md, "The hot paths").
PAGE_COLUMNS = (File.id, File.path, File.size, File.content_type, File.sha256, File.etag,
                File.metadata_.label("metadata"), File.tags, File.status, File.created_at,
                File.updated_at, File.created_by, File.detected_content_type, File.image,
                File.storage_key)


@dataclass(frozen=True)
class ListQuery:
    prefix: str | None = None
    q: str | None = None
    tag: str | None = None
    content_type: str | None = None
    sort: str = "path"
    order: str = "asc"
    limit: int = 100
    cursor: str | None = None
    created_by: str | None = None

    def __post_init__(self) -> None:
        for name in ("prefix", "q", "tag", "content_type", "created_by"):
            value = getattr(self, name)
            if value is not None and not is_storable(value):
                raise BadRequest(f"'{name}' may not contain NUL or lone surrogates")

    def is_plain(self) -> bool:
        """Sorted by path, with no filter but the bucket's and a prefix's, at most a default
        page: the walk every client makes, of a bucket or a folder (see `page`)."""
        return (self.sort == "path" and self.limit <= PLAIN_PAGE_MAX
                and not (self.q or self.tag or self.content_type)
                and self.created_by is None
                and (not self.prefix or path_range(self.prefix) is not None))

    def fingerprint(self, bucket_id: uuid.UUID) -> str:
        """Ties a cursor to its bucket, filters and order."""
        parts = [str(bucket_id), self.prefix, self.q, self.tag, self.content_type, self.sort,
                 self.order, *([self.created_by] if self.created_by is not None else [])]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def encode_cursor(query: ListQuery, bucket_id: uuid.UUID, file: Mapping[str, Any]) -> str:
    """The cursor after `file` (a page's last row, by column name)."""
    value: Any = file[query.sort]
    if isinstance(value, datetime):
        value = value.isoformat()
    document = {"f": query.fingerprint(bucket_id), "v": value, "id": str(file["id"])}
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def decode_cursor(query: ListQuery, bucket_id: uuid.UUID) -> tuple[Any, uuid.UUID] | None:
    if not query.cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(query.cursor + "=" * (-len(query.cursor) % 4))
        document = json.loads(raw)
        last_id = uuid.UUID(document["id"])
        value = document["v"]
        if document["f"] != query.fingerprint(bucket_id):
            raise BadRequest("This cursor belongs to another listing (bucket, filters or sort)")
        if query.sort == "created_at":
            value = datetime.fromisoformat(value)
        expected = {"size": int, "path": str}.get(query.sort)
        if expected is not None and (type(value) is not expected):
            raise ValueError
        if expected is int and not 0 <= value <= MAX_BIGINT:  # no size is outside
            raise ValueError
        if isinstance(value, str) and not is_storable(value):
            raise ValueError
    except BadRequest:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
        raise BadRequest("Malformed cursor") from None
    return value, last_id


def _filters(db: Session, *, bucket: Bucket, query: ListQuery) -> tuple[
        list[ColumnElement[bool]], list[Any], tuple[Any, uuid.UUID] | None]:
    """The page's conditions but the bucket's and the search's, its order, and the cursor's
    (sort value, id)."""
    column = SORT_COLUMNS[query.sort]
    conditions = [File.status == READY]
    if query.prefix:
        conditions.append(starts_with(query.prefix))
    if query.tag:
        conditions.append(has_tag(db, query.tag))
    if query.content_type:
        conditions.append(content_type_matches(query.content_type))
    if query.created_by is not None:
        conditions.append(File.created_by == query.created_by)
    after = decode_cursor(query, bucket.id)
    if after is not None:
        conditions.append(_after(tuple_(column, File.id), tuple_(*after), query))
    return conditions, _ordered([column, File.id], query), after


def _after(key: Any, last: Any, query: ListQuery) -> ColumnElement[bool]:
    beyond: ColumnElement[bool] = key < last if query.order == "desc" else key > last
    return beyond


def _ordered(columns: list[Any], query: ListQuery) -> list[Any]:
    return [column.desc() if query.order == "desc" else column.asc() for column in columns]


def _in_bucket(bucket: Bucket, query: ListQuery) -> list[ColumnElement[bool]]:
    conditions = [File.bucket_id == bucket.id]
    if query.q:
        conditions.append(contains(File.path_search, search_key(query.q)))
    return conditions


def build_statement(db: Session, *, bucket: Bucket, query: ListQuery) -> Select[Any]:
    """The page's query, filtered, after the cursor, in order (without its LIMIT)."""
    conditions, ordering, _ = _filters(db, bucket=bucket, query=query)
    return select(*PAGE_COLUMNS).where(*_in_bucket(bucket, query), *conditions).order_by(*ordering)


def page_statement(db: Session, *, bucket: Bucket, query: ListQuery) -> Select[Any]:
    """The page's query with its LIMIT: one row more than the page, to tell if another follows.

    A search on PostgreSQL takes one of three shapes. With rare trigrams in it (search.py),
    the files that hold them anywhere are found first, from the trigram index, and the bucket
    and the exact match are checked on those few. Otherwise, in path order, the bucket's
    paths that hold the search's least common trigram are walked in `file_trigrams`, which
    carries path_search, to the page's last match; and a search with no trigram at all walks
    the bucket's paths in an index on (bucket_id, path) that carries path_search, status and
    id (migration 0004). Both walks are index-only past the rows that do not match.
    """
    limit = query.limit + 1
    if query.q and db.get_bind().dialect.name == "postgresql":
        key = search_key(query.q)
        rare = rare_trigrams(db, key)
        if rare:
            return _by_rare_trigrams(db, bucket=bucket, query=query, key=key,
                                     rare=rare).limit(limit)
        if query.sort == "path":
            trigram = least_common_trigram(db, key)
            if trigram is not None:
                return _by_trigram_walk(db, bucket=bucket, query=query, key=key,
                                        trigram=trigram, limit=limit)
            conditions, ordering, _ = _filters(db, bucket=bucket, query=query)
            page_ids = (select(File.id).where(*_in_bucket(bucket, query), *conditions)
                        .order_by(*ordering).limit(limit))
            return select(*PAGE_COLUMNS).where(File.id.in_(page_ids)).order_by(*ordering)
    return build_statement(db, bucket=bucket, query=query).limit(limit)


def _by_trigram_walk(db: Session, *, bucket: Bucket, query: ListQuery, key: str, trigram: str,
                     limit: int) -> Select[Any]:
    conditions, ordering, after = _filters(db, bucket=bucket, query=query)
    held = FILE_TRIGRAMS.c
    walk = [held.bucket_id == bucket.id, held.trigram == trigram, contains(held.path_search, key)]
    if after is not None:  # paths are unique in a bucket: after the path is after (path, id)
        walk.append(_after(held.path, after[0], query))
    # Each walked path's file is looked up by itself (LATERAL, fenced by OFFSET 0). Joined
    # plainly, the planner may merge the walk with the bucket's path index, which then steps
    # through every path before the page's last match: the walk this table is there to avoid.
    file_at = (select(File.id).where(File.bucket_id == held.bucket_id, File.path == held.path,
                                     *conditions).offset(0).lateral())
    page_ids = (select(file_at.c.id).select_from(FILE_TRIGRAMS).join(file_at, true())
                .where(*walk).order_by(*_ordered([held.path], query)).limit(limit))
    return select(*PAGE_COLUMNS).where(File.id.in_(page_ids)).order_by(*ordering)


def _by_rare_trigrams(db: Session, *, bucket: Bucket, query: ListQuery, key: str,
                      rare: list[str]) -> Select[Any]:
    conditions, ordering, _ = _filters(db, bucket=bucket, query=query)
    holding = [File.path_search.like(f"%{trigram}%") for trigram in rare]  # [a-z0-9]{3}
    # OFFSET 0 keeps the bucket's condition out of this subquery: inside, it would be one
    # more entry of the GIN scan, and the one that holds every file of the bucket. (Its ids,
    # not an aliased entity: adapting File's columns to an alias made anew per page cost more
    # Python than the query's execution.)
    exact = func.strpos(File.path_search, key) > 0
    candidates = select(File.id).where(*holding, exact, *conditions).offset(0)
    return (select(*PAGE_COLUMNS).where(File.id.in_(candidates), File.bucket_id == bucket.id)
            .order_by(*ordering))


def list_files(db: Session, *, bucket: Bucket,
               query: ListQuery) -> tuple[Sequence[Mapping[str, Any]], str | None]:
    """One page of the bucket's ready files (rows of PAGE_COLUMNS, by name), and the cursor
    of the next page (None at the end)."""
    # On the session's connection, as Core: rows of columns need nothing of the ORM's
    # execution (its compile state and loading), which cost more than the rows' own reading.
    rows = db.connection().execute(page_statement(db, bucket=bucket, query=query)).mappings()
    # (RowMapping is typed with any key, a column as well as its name: these are by name.)
    return _cut(cast(Sequence[Mapping[str, Any]], rows.all()), bucket, query)


def _cut(rows: Sequence[Mapping[str, Any]], bucket: Bucket,
         query: ListQuery) -> tuple[Sequence[Mapping[str, Any]], str | None]:
    """The page of `rows` (one more than a page, when another follows), and the next cursor."""
    page, more = rows[:query.limit], len(rows) > query.limit
    return page, encode_cursor(query, bucket.id, page[-1]) if more and page else None


async def page(request: Request, db: Session, storage: Storage, *, bucket: Bucket,
               query: ListQuery) -> FilePage | Response:
    """The page as the API shows it: a plain one through the read API (on PostgreSQL as the
    JSON the database made of it), any other built and run with SQLAlchemy in one piece of
    blocking work (a sync route would take a second trip to a worker thread to check what
    it returns)."""
    runtime = runtime_of(request)
    if not query.is_plain():
        return await run_blocking(runtime, page_of, db, storage, bucket=bucket, query=query)
    after = decode_cursor(query, bucket.id)
    paths = path_range(query.prefix) if query.prefix else None
    bounds = {**({} if paths is None else {"from_path": paths[0], "to_path": paths[1]}),
              **({} if after is None else {"after_path": after[0], "after_id": after[1]})}
    as_json = runtime.settings.uses_postgresql
    statement = _plain_page(query.order, within=paths is not None, after=after is not None,
                            as_json=as_json)
    shows = {"bucket_name": bucket.name, "public_prefix": _public_prefix(storage, bucket)} \
        if as_json else {}
    rows = await read_many(request, statement, bucket_id=bucket.id, status=READY,
                           limit=query.limit + 1, **bounds, **shows)
    files, next_cursor = _cut(rows, bucket, query)
    if as_json:
        return Response(_page_json([file["shown"] for file in files], next_cursor),
                        media_type="application/json")
    return shown(files, bucket=bucket, storage=storage, next_cursor=next_cursor)


def page_of(db: Session, storage: Storage, *, bucket: Bucket, query: ListQuery) -> FilePage:
    """A page with filters, or sorted otherwise than by path. The read's transaction ends
    here, with the blocking work: the connection goes back to the pool now, and the session
    closes without another trip."""
    files, next_cursor = list_files(db, bucket=bucket, query=query)
    db.commit()
    return shown(files, bucket=bucket, storage=storage, next_cursor=next_cursor)


def shown(files: Sequence[Mapping[str, Any]], *, bucket: Bucket, storage: Storage,
          next_cursor: str | None) -> FilePage:
    """The page's rows as the API shows them."""
    public = bucket.public
    # Validated as one page, in one call: a call for each file cost more than the query.
    items = [{**file, "bucket": bucket.name,
              "public_url": storage.public_url(file["storage_key"]) if public else None}
             for file in files]
    return FilePage.model_validate({"items": items, "next_cursor": next_cursor})


# A plain page (ListQuery.is_plain) as read API statements: nothing to build, compile or
# process with SQLAlchemy, and on PostgreSQL no trip to a worker thread (db.reads). Its rows
# are at most PLAIN_PAGE_MAX + 1, so a read on the event loop stays short. The same columns,
# conditions (a prefix as starts_with's range), order and keyset as page_statement's.
PLAIN_PAGE_MAX = 100
_PLAIN_PAGE = """
SELECT id, path, size, content_type, sha256, etag, metadata, tags, status, created_at,
       updated_at, created_by, detected_content_type, image, storage_key
FROM files WHERE bucket_id = :bucket_id AND status = :status"""
_WITHIN = " AND path >= :from_path AND path < :to_path"
_AFTER = {"asc": " AND (path, id) > (:after_path, :after_id)",
          "desc": " AND (path, id) < (:after_path, :after_id)"}
_ORDER = {"asc": " ORDER BY path, id LIMIT :limit",
          "desc": " ORDER BY path DESC, id DESC LIMIT :limit"}
_PATHS = (("from_path", "files.path"), ("to_path", "files.path"), ("after_path", "files.path"),
          ("after_id", "files.id"))


# The same page on PostgreSQL, each file as the API shows it (FileOut's fields, in its order
# and format): JSON made by the database costs this process a fifth of reading the rows and
# making it of them (docs/performance.md, "A page's JSON from PostgreSQL"). Besides it, what
# the next cursor is made of. A file's `public_url` is the storage's public prefix and its key
# (public_url quotes nothing of a key made of ids).
_PLAIN_PAGE_JSON = """
SELECT path, id, json_build_object(
    'id', id, 'bucket', CAST(:bucket_name AS text), 'path', path, 'size', size,
    'content_type', content_type, 'sha256', sha256, 'etag', etag, 'metadata', metadata,
    'tags', tags, 'status', status, 'created_at', {created_at}, 'updated_at', {updated_at},
    'public_url', CAST(:public_prefix AS text) || storage_key, 'created_by', created_by,
    'detected_content_type', detected_content_type, 'image', image)::text AS shown
FROM files WHERE bucket_id = :bucket_id AND status = :status"""
# A time as Pydantic writes it: UTC, "Z", microseconds only when there are any.
_ISO_TIME = """(to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || CASE
    WHEN date_trunc('second', {0}) = {0} THEN ''
    ELSE to_char({0} AT TIME ZONE 'UTC', '.US') END || 'Z')"""


@functools.cache
def _plain_page(order: str, *, within: bool, after: bool, as_json: bool = False) -> Query:
    """A plain page's statement: `within` a prefix's paths, `after` a cursor's row; its
    files `as_json` (PostgreSQL)."""
    select = _PLAIN_PAGE_JSON.format(created_at=_ISO_TIME.format("created_at"),
                                     updated_at=_ISO_TIME.format("updated_at")) \
        if as_json else _PLAIN_PAGE
    return Query(select + (_WITHIN if within else "") + (_AFTER[order] if after else "")
                 + _ORDER[order], ("files",), _PATHS)


def _public_prefix(storage: Storage, bucket: Bucket) -> str | None:
    """What a public bucket's files' public URLs start with (None for a private bucket)."""
    if not bucket.public:
        return None
    key = object_key(public=True, workspace_id=uuid.UUID(int=0), bucket_id=bucket.id,
                     file_id=uuid.UUID(int=0))
    return storage.public_url(key).removesuffix(key)


def _page_json(files: Sequence[str], next_cursor: str | None) -> bytes:
    """A FilePage of files already in JSON, as FastAPI would write it."""
    return b'{"items":[' + ",".join(files).encode() + b'],"next_cursor":' + \
        json.dumps(next_cursor).encode() + b"}"
