"""Substring search with rare trigrams: on PostgreSQL the files holding them anywhere are found
from the trigram index, then the bucket and the exact match are checked on those few (see
files/search.py); the answer is the same as the plain search's, page by page, on both
databases, and another bucket's or workspace's files never appear."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, text

from cloudnexus.files.models import File
from cloudnexus.files.paths import search_key
from cloudnexus.files.search import rare_trigrams
from tests.conftest import Tenant

NEEDLE = "Zq7kX-42"  # its trigrams zq7, q7k, 7kx are in no other path


def add_files(app: Any, tenant: Tenant, bucket_id: str, paths: list[str]) -> list[str]:
    rows = [{"id": uuid.uuid4(), "workspace_id": tenant.workspace_id,
             "bucket_id": uuid.UUID(bucket_id), "status": "ready", "path": path,
             "path_search": search_key(path), "size": 1, "content_type": "text/plain",
             "etag": "e", "metadata_": {}, "tags": [], "storage_key": f"private/{path}"}
            for path in paths]
    with app.state.runtime.session_factory() as db:
        db.execute(insert(File), rows)
        db.commit()
    return [str(row["id"]) for row in sorted(rows, key=lambda row: row["path"])]


def new_bucket(client: Any, tenant: Tenant, name: str) -> str:
    response = client.post("/v1/buckets", json={"name": name}, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_rare_substring_pages_exactly_within_its_bucket(
        app: Any, client: Any, tenant: Tenant, tenant_factory: Any) -> None:
    mine = new_bucket(client, tenant, "mine")
    add_files(app, tenant, mine, [f"dir{n % 7}/file-{n}.txt" for n in range(3000)])
    expected = add_files(app, tenant, mine, [f"a/{NEEDLE.lower()}-{n}.bin" for n in range(4)]
                         + [f"b/x{NEEDLE}y" , f"c/{NEEDLE}"])
    add_files(app, tenant, new_bucket(client, tenant, "neighbour"), [f"n/{NEEDLE}"])
    other = tenant_factory("other-workspace")
    add_files(app, other, new_bucket(client, other, "theirs"), [f"t/{NEEDLE}"])
    add_files(app, tenant, mine, ["d/zq7kx-4", "e/ZQ7K"])  # the trigrams, not the substring
    with app.state.runtime.session_factory() as db:
        if db.get_bind().dialect.name == "postgresql":
            db.execute(text("ANALYZE files"))  # the statistics the rare trigrams come from
            db.commit()
            assert rare_trigrams(db, search_key(NEEDLE)), "the search should take that shape"

    seen, cursor = [], None
    while True:
        page = client.get("/v1/buckets/mine/files", headers=tenant.headers(),
                          params={"q": NEEDLE, "limit": 2, **({"cursor": cursor} if cursor
                                                              else {})}).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
