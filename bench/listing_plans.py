"""EXPLAIN the listing queries on PostgreSQL at scale: every sort, first and deep pages, filters.

    .venv/bin/python -m bench.listing_plans [--rows 200000]

Makes (and drops) its own database on 127.0.0.1:5432, seeds one bucket with --rows files and
a neighbour bucket with half as many, then prints each plan's top nodes and its timing.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from psycopg.types.json import Jsonb

from bench.scratch import scratch_database, seed_files
from cloudnexus.config import load_settings
from cloudnexus.db.engine import create_db_engine, create_session_factory
from cloudnexus.files.listing import ListQuery, build_statement, encode_cursor, page_statement


def seed(url: str, rows: int) -> tuple[Any, Any]:
    from cloudnexus.buckets.service import create as create_bucket
    from cloudnexus.workspaces.service import create as create_workspace

    engine = create_db_engine(load_settings(database_url=url))
    with create_session_factory(engine)() as db:
        workspace = create_workspace(db, name="bench")
        bucket = create_bucket(db, workspace_id=workspace.id, name="big")
        other = create_bucket(db, workspace_id=workspace.id, name="other")
        for target, count in ((bucket, rows), (other, rows // 2)):
            seed_files(db, workspace_id=workspace.id, bucket_id=target.id, rows=count)
    return engine, bucket


def deep_cursor(db: Any, bucket: Any, query: ListQuery, depth: int) -> str:
    statement = build_statement(db, bucket=bucket, query=query).offset(depth).limit(1)
    row = db.execute(statement).one()
    return encode_cursor(query, bucket.id, row)


def explain(db: Any, bucket: Any, query: ListQuery) -> tuple[list[str], float]:
    statement = page_statement(db, bucket=bucket, query=query)
    compiled = statement.compile(dialect=db.get_bind().dialect)
    params = {name: Jsonb(value) if isinstance(value, list) else value
              for name, value in compiled.params.items()}
    plan = db.connection().exec_driver_sql(
        f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {compiled}", params).scalar_one()
    document = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
    nodes: list[str] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        index = f" using {node['Index Name']}" if "Index Name" in node else ""
        nodes.append("  " * depth + node["Node Type"] + index)
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(document["Plan"], 0)
    return nodes, float(document["Execution Time"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with scratch_database() as url:
        engine, bucket = seed(url, args.rows)
        cases: list[tuple[str, ListQuery, int | None]] = []
        for sort in ("path", "created_at", "size"):
            for order in ("asc", "desc"):
                base = ListQuery(sort=sort, order=order)
                cases += [(f"{sort} {order}, first page", base, None),
                          (f"{sort} {order}, depth {args.rows // 2}", base, args.rows // 2)]
        cases += [("prefix=dir7/", ListQuery(prefix="dir7/"), None),
                  ("q=file-1234", ListQuery(q="file-1234"), None),
                  ("q=sub1 (common)", ListQuery(q="sub1"), None),
                  ("q=sub7/file-9 (one in a hundred)", ListQuery(q="sub7/file-9"), None),
                  ("q=dir96/sub (one in a hundred, last in path order)",
                   ListQuery(q="dir96/sub"), None),
                  ("tag=red", ListQuery(tag="red"), None),
                  ("content_type=image/*", ListQuery(content_type="image/*"), None)]
        with create_session_factory(engine)() as db:
            for name, query, depth in cases:
                if depth is not None:
                    query = ListQuery(sort=query.sort, order=query.order,
                                      cursor=deep_cursor(db, bucket, query, depth))
                explain(db, bucket, query)  # warm the cache, as a live service would be
                nodes, milliseconds = explain(db, bucket, query)
                print(f"## {name}: {milliseconds:.2f} ms")
                shown = nodes[:4] + [node for node in nodes[4:] if "Scan" in node]
                print("\n".join(re.sub(r"^", "    ", node) for node in shown))
        engine.dispose()


if __name__ == "__main__":
    main()
