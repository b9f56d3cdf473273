"""Listing: every page of a bucket of thousands, in every order, nothing skipped or repeated."""

from __future__ import annotations

import base64
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update

from cloudnexus.files.models import File
from cloudnexus.files.paths import search_key
from tests.conftest import Tenant

COUNT = 3000
SORTS = [(sort, order) for sort in ("path", "created_at", "size") for order in ("asc", "desc")]
BASE = datetime(2026, 11, 1, tzinfo=UTC)
NAMES = ["a/b/", "A/", "docs/", "Ünïcödé/", "日本/", "100%/", "under_score/", "back\\slash/",
         "z/", "a/bc/", "emoji😀/"]


class Seeded:
    def __init__(self, app: Any, tenant: Tenant, bucket_id: uuid.UUID) -> None:
        self.app, self.tenant, self.bucket_id = app, tenant, bucket_id
        self.rows: dict[str, dict[str, Any]] = {}

    def add(self, count: int, *, seed: int, prefix: str = "") -> None:
        rng = random.Random(seed)
        rows = []
        for index in range(count):
            file_id = uuid.uuid4()
            row = {
                "id": file_id, "workspace_id": self.tenant.workspace_id,
                "bucket_id": self.bucket_id, "status": "ready",
                "path": f"{prefix}{rng.choice(NAMES)}{index:05d}-{seed}.{rng.choice('tx')}",
                "path_search": "",  # set below, from the path
                "size": rng.choice([0, 1, 10, 10, 10, 4096, 10**9]),  # many ties
                "created_at": BASE + timedelta(seconds=rng.randrange(50)),  # many ties
                "updated_at": BASE, "content_type": rng.choice(
                    ["image/png", "image/jpeg", "text/plain", "application/pdf"]),
                "sha256": None, "etag": "e", "metadata_": {},
                "tags": rng.sample(["red", "green", "blue"], rng.randrange(3)),
                "storage_key": f"private/x/{file_id}",
            }
            row["path_search"] = search_key(row["path"])
            rows.append(row)
            self.rows[str(file_id)] = row
        with self.app.state.runtime.session_factory() as db:
            db.execute(insert(File), rows)
            db.commit()

    def expected(self, sort: str, order: str, keep: Any = lambda row: True) -> list[str]:
        chosen = [row for row in self.rows.values() if keep(row)]
        chosen.sort(key=lambda row: (row[sort], row["id"].hex), reverse=order == "desc")
        return [str(row["id"]) for row in chosen]


@pytest.fixture
def seeded(app: Any, client: Any, tenant: Tenant) -> Seeded:
    bucket = client.post("/v1/buckets", json={"name": "big"}, headers=tenant.headers()).json()
    client.post("/v1/buckets", json={"name": "other"}, headers=tenant.headers())
    data = Seeded(app, tenant, uuid.UUID(bucket["id"]))
    data.add(COUNT, seed=1)
    return data


def walk(client: Any, tenant: Tenant, query: str, limit: int = 97,
         between_pages: Any = None) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        url = f"/v1/buckets/big/files?limit={limit}&{query}"
        response = client.get(url + (f"&cursor={cursor}" if cursor else ""),
                              headers=tenant.headers())
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        assert len(page["items"]) == limit
        if between_pages:
            between_pages(len(seen))


@pytest.mark.parametrize(("sort", "order"), SORTS)
def test_walks_every_file_once_in_order(client: Any, tenant: Tenant, seeded: Seeded,
                                        sort: str, order: str) -> None:
    assert walk(client, tenant, f"sort={sort}&order={order}") == seeded.expected(sort, order)


@pytest.mark.parametrize(("sort", "order"), SORTS)
def test_files_added_between_pages_skip_and_repeat_nothing(
        client: Any, tenant: Tenant, seeded: Seeded, sort: str, order: str) -> None:
    before = set(seeded.rows)
    seed = iter(range(100, 10_000))
    seen = walk(client, tenant, f"sort={sort}&order={order}", limit=250,
                between_pages=lambda _: seeded.add(20, seed=next(seed)))
    assert len(seen) == len(set(seen)), "a file was listed twice"
    assert before <= set(seen), "a file that existed all along was skipped"
    assert seen == [file_id for file_id in seeded.expected(sort, order) if file_id in set(seen)]


@pytest.mark.parametrize(("query", "keep"), [
    ("prefix=a/b/", lambda row: row["path"].startswith("a/b/")),
    ("prefix=100%25/", lambda row: row["path"].startswith("100%/")),
    ("prefix=under_", lambda row: row["path"].startswith("under_")),
    ("prefix=back%5C", lambda row: row["path"].startswith("back\\")),
    ("prefix=%F4%8F%BF%BF", lambda row: False),
    ("q=ÜNÏ", lambda row: "ünï" in row["path"].lower()),
    ("q=0%25", lambda row: "0%" in row["path"].lower()),
    ("q=_score", lambda row: "_score" in row["path"]),
    ("q=-1.T", lambda row: "-1.t" in row["path"].lower()),
    ("tag=red", lambda row: "red" in row["tags"]),
    ("content_type=image/*", lambda row: row["content_type"].startswith("image/")),
    ("content_type=text/plain", lambda row: row["content_type"] == "text/plain"),
    ("prefix=docs/&tag=blue&content_type=image/*", lambda row: row["path"].startswith("docs/")
     and "blue" in row["tags"] and row["content_type"].startswith("image/")),
])
def test_filters_page_exactly(client: Any, tenant: Tenant, seeded: Seeded, query: str,
                              keep: Any) -> None:
    expected = seeded.expected("size", "desc", keep)
    assert walk(client, tenant, f"{query}&sort=size&order=desc", limit=50) == expected


SEARCHES = [
    ("q=ÜNÏ", lambda row: "ünï" in row["path"].lower()),
    ("q=-1.T", lambda row: "-1.t" in row["path"].lower()),
    ("q=/&prefix=a/", lambda row: row["path"].startswith("a/")),
]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize(("query", "keep"), SEARCHES)
def test_searches_in_path_order_page_exactly(client: Any, tenant: Tenant, seeded: Seeded,
                                             query: str, keep: Any, order: str) -> None:
    """In path order PostgreSQL picks a page's ids first (index-only), then reads the rows."""
    expected = seeded.expected("path", order, keep)
    assert len(expected) > 50  # more than one page
    assert walk(client, tenant, f"{query}&sort=path&order={order}", limit=50) == expected


def test_only_ready_files_are_listed(app: Any, client: Any, tenant: Tenant,
                                     seeded: Seeded) -> None:
    from sqlalchemy import update

    hidden = list(seeded.rows)[:2]
    with app.state.runtime.session_factory() as db:
        for file_id, status in zip(hidden, ("deleting", "missing"), strict=True):
            db.execute(update(File).where(File.id == uuid.UUID(file_id)).values(status=status))
        db.commit()
    listed = walk(client, tenant, "sort=path", limit=1000)
    assert len(listed) == COUNT - 2 and not set(hidden) & set(listed)


def cursor_from(client: Any, tenant: Tenant, query: str = "sort=path") -> str:
    page = client.get(f"/v1/buckets/big/files?limit=5&{query}", headers=tenant.headers()).json()
    return str(page["next_cursor"])


def tamper(cursor: str, **changes: Any) -> str:
    document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    document.update(changes)
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def test_bad_cursors_are_400(client: Any, tenant: Tenant, seeded: Seeded) -> None:
    good = cursor_from(client, tenant)
    size_cursor = cursor_from(client, tenant, "sort=size")
    for cursor, query in [
        ("garbage", "sort=path"), ("!!!", "sort=path"), ("", "sort=path"),
        (base64.urlsafe_b64encode(b"[1, 2]").decode(), "sort=path"),
        (tamper(good, f="0" * 16), "sort=path"), (tamper(good, v=12), "sort=path"),
        (tamper(good, id="not-a-uuid"), "sort=path"), (tamper(size_cursor, v="big"), "sort=size"),
        (tamper(size_cursor, v=True), "sort=size"), (tamper(size_cursor, v=10**30), "sort=size"),
        (tamper(size_cursor, v=-1), "sort=size"),
        (good, "sort=size"), (good, "sort=path&order=desc"), (good, "sort=path&prefix=a"),
    ]:
        response = client.get(f"/v1/buckets/big/files?{query}&cursor={cursor}",
                              headers=tenant.headers())
        if cursor == "":
            assert response.status_code == 200
            continue
        assert response.status_code == 400, (cursor, query, response.text)
        assert response.json()["error"]["code"] == "bad_request"


def test_cursor_from_another_bucket_is_400(client: Any, tenant: Tenant, seeded: Seeded) -> None:
    response = client.get(f"/v1/buckets/other/files?cursor={cursor_from(client, tenant)}",
                          headers=tenant.headers())
    assert response.status_code == 400


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "sort=name", "order=up"])
def test_bad_parameters_are_422(client: Any, tenant: Tenant, seeded: Seeded, query: str) -> None:
    response = client.get(f"/v1/buckets/big/files?{query}", headers=tenant.headers())
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("prefix", [None, "d/"])
def test_a_plain_page_is_the_page_the_general_query_makes(
        app: Any, client: Any, tenant: Tenant, order: str, prefix: str | None) -> None:
    """A plain page (sorted by path, no filter but a prefix) is read through the read API,
    on PostgreSQL as JSON the database makes; the page the statement of every other page
    makes (page_of, with Pydantic) for the same query is the same, field for field and
    cursor for cursor: in a public bucket, with metadata of every JSON kind, tags, an image,
    a file without sha256 or maker, and times with and without microseconds."""
    import io

    from PIL import Image

    from cloudnexus.buckets.models import Bucket
    from cloudnexus.files.listing import ListQuery, page_of

    assert client.post("/v1/buckets", json={"name": "shown", "public": True},
                       headers=tenant.headers()).status_code == 201
    png = io.BytesIO()
    Image.new("RGB", (3, 2)).save(png, "PNG")
    for index, (body, kind) in enumerate([(b"a", "text/plain"), (png.getvalue(), "image/png"),
                                          (b"{}", "application/json")] * 2):
        made = client.post("/v1/buckets/shown/files", headers=tenant.headers(), data={
            "path": f"d/{index}-{kind.replace('/', '.')}", "tags": ["x", f"t{index}"],
            "metadata": json.dumps({"n": index, "deep": {"list": [1.5, None, "é", True]},
                                    "text": "q\"b\\s\u0001\u2028/😀", "big": 2**64 + 1,
                                    "small": 1e-7, "e": 1.5e300, "neg": -0.25, "empty": {}})},
            files={"file": ("f", body, kind)})
        assert made.status_code == 201, made.text
    outside = client.post("/v1/buckets/shown/files", headers=tenant.headers(), data={
        "path": "e/0"}, files={"file": ("f", b"a", "text/plain")})
    assert outside.status_code == 201, outside.text
    runtime = app.state.runtime
    with runtime.session_factory() as db:  # as files from before sha256 and created_by
        db.execute(update(File).where(File.path == "d/0-text.plain").values(
            sha256=None, created_by=None, created_at=BASE, updated_at=BASE))
        db.commit()
    cursor, shown = None, []
    for _ in range(3 if prefix else 4):  # pages of 2, each after the last one's cursor
        url = f"/v1/buckets/shown/files?limit=2&order={order}" + (
            f"&prefix={prefix}" if prefix else "")
        plain = client.get(url + (f"&cursor={cursor}" if cursor else ""),
                           headers=tenant.headers()).json()
        with runtime.session_factory() as db:
            bucket = db.query(Bucket).filter_by(name="shown").one()
            general = page_of(db, runtime.storage, bucket=bucket, query=ListQuery(
                prefix=prefix, order=order, limit=2, cursor=cursor))
        assert general.model_dump(mode="json") == plain
        assert plain["items"] and all(item["public_url"] for item in plain["items"])
        shown += plain["items"]
        cursor = plain["next_cursor"]
    assert cursor is None and len(shown) == (6 if prefix else 7)
    assert sum(item["image"] is not None for item in shown) == 2
    assert {item["created_at"] for item in shown} >= {"2026-11-01T00:00:00Z"}
