"""Listing at scale on PostgreSQL: 10,000 vs 1,000,000 files, first page and deep pages."""

from __future__ import annotations

import time
import uuid
from typing import Any

from bench.report import Row, limit_row, ratio_row
from bench.scratch import seed_files
from cloudnexus.config import load_settings
from cloudnexus.db.engine import create_db_engine, create_session_factory
from cloudnexus.files.listing import ListQuery, build_statement, encode_cursor, list_files

SORTS = ("path", "created_at", "size")


def p50_ms(db: Any, pages: dict[int, tuple[Any, ListQuery]], runs: int) -> dict[int, float]:
    """The median time of each page, the pages taken in turns: a burst of noise on this
    shared machine falls on both sides of a ratio rather than on one."""
    for bucket, query in pages.values():
        list_files(db, bucket=bucket, query=query)  # warm, as a serving container would be
    timings: dict[int, list[float]] = {count: [] for count in pages}
    for _ in range(runs):
        for count, (bucket, query) in pages.items():
            started = time.perf_counter()
            list_files(db, bucket=bucket, query=query)
            timings[count].append(time.perf_counter() - started)
    return {count: sorted(taken)[runs // 2] * 1000 for count, taken in timings.items()}


def cursor_at(db: Any, bucket: Any, sort: str, depth: int) -> str:
    query = ListQuery(sort=sort)
    row = db.execute(build_statement(db, bucket=bucket, query=query).offset(depth).limit(1)).one()
    return encode_cursor(query, bucket.id, row._mapping)


def run(database_url: str, *, large: int, runs: int) -> list[Row]:
    from cloudnexus.buckets import service as buckets
    from cloudnexus.workspaces import service as workspaces

    small = 10_000
    engine = create_db_engine(load_settings(database_url=database_url))
    rows: list[Row] = []
    with create_session_factory(engine)() as db:
        workspace = workspaces.create(db, name=f"listing-{uuid.uuid4().hex[:6]}")
        sized = {}
        for count in (small, large):
            bucket = buckets.create(db, workspace_id=workspace.id, name=f"files-{count}")
            seed_files(db, workspace_id=workspace.id, bucket_id=bucket.id, rows=count)
            sized[count] = bucket
        for sort in SORTS:
            for label, depth in (("first page", None), ("deep page", "half")):
                pages = {}
                for count, bucket in sized.items():
                    cursor = cursor_at(db, bucket, sort, count // 2) if depth else None
                    pages[count] = (bucket, ListQuery(sort=sort, cursor=cursor))
                figures = p50_ms(db, pages, runs)
                name = f"list sort={sort}, {label}" + (f" (depth {large // 2:,})" if depth
                                                       else "")
                rows.append(ratio_row(f"{name}: {large:,} vs {small:,}", figures[large],
                                      figures[small], "ms", at_most=1.3))
                rows.append(limit_row(f"{name}: p50 at {large:,}", figures[large], "ms", 15))
        # rare; one path in a hundred, early and spread in path order; one in a hundred, all
        # at the end of it (dir96/ sorts last of dir0/ to dir96/)
        for q in ("file-12345", "sub7/file-9", "dir96/sub"):
            figures = p50_ms(db, {count: (bucket, ListQuery(q=q))
                                  for count, bucket in sized.items()}, runs)
            rows.append(ratio_row(f"search q={q}: {large:,} vs {small:,}", figures[large],
                                  figures[small], "ms", at_most=1.3))
            rows.append(limit_row(f"search q={q}: p50 at {large:,}", figures[large], "ms", 15))
    engine.dispose()
    return rows
