"""Substring search. With rare trigrams, on PostgreSQL the files holding them anywhere are
found from the trigram index, then the bucket and the exact match are checked on those few;
without, the bucket's paths that hold the search's least common trigram are walked in path
order in file_trigrams, which triggers keep beside `files` through every write (see
files/search.py). Either way the answer is the plain search's, page by page, in both orders,
on both databases, and another bucket's or workspace's files never appear."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import insert, text, update

from cloudnexus.buckets.models import Bucket
from cloudnexus.files.models import MISSING, File
from cloudnexus.files.paths import search_key
from cloudnexus.files.search import least_common_trigram, rare_trigrams, windows
from cloudnexus.maintenance import run
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


def all_pages(client: Any, tenant: Tenant, bucket: str, **params: Any) -> list[str]:
    seen, cursor = [], None
    while True:
        page = client.get(f"/v1/buckets/{bucket}/files", headers=tenant.headers(),
                          params={**params, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["path"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def analyze(app: Any) -> bool:
    """Fresh statistics (where the search's trigrams are ranked from); True on PostgreSQL."""
    with app.state.runtime.session_factory() as db:
        if db.get_bind().dialect.name != "postgresql":
            return False
        db.execute(text("ANALYZE files"))
        db.commit()
    return True


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_common_substring_pages_exactly_in_path_order_within_its_bucket(
        app: Any, client: Any, tenant: Tenant, tenant_factory: Any, order: str) -> None:
    mine = new_bucket(client, tenant, "mine")
    paths = [f"Dir{n % 7}/Sub{n % 5}/file-{n}.txt" for n in range(2000)]
    paths += ["dir3/sub1", "x/DIR3/SUB1/y", "x/dïr3/sub1", "dir3_sub1", "ΐdir3/sub1ΐ"]
    ids = dict(zip(sorted(paths), add_files(app, tenant, mine, paths), strict=True))
    missing = "Dir3/Sub1/file-66.txt"  # found without its bytes: not listed
    with app.state.runtime.session_factory() as db:
        db.execute(update(File).where(File.id == uuid.UUID(ids[missing])).values(status=MISSING))
        db.commit()
    paths.remove(missing)
    add_files(app, tenant, new_bucket(client, tenant, "neighbour"), ["dir3/sub1/n"])
    other = tenant_factory("other-workspace")
    add_files(app, other, new_bucket(client, other, "theirs"), ["dir3/sub1/t"])
    if analyze(app):
        with app.state.runtime.session_factory() as db:
            assert not rare_trigrams(db, "dir3/sub1"), "the search should walk file_trigrams"
            assert least_common_trigram(db, "dir3/sub1") is not None

    expected = sorted((path for path in paths if "dir3/sub1" in search_key(path)),
                      key=lambda path: path.encode(), reverse=order == "desc")
    assert len(expected) > 50
    assert all_pages(client, tenant, "mine", q="DIR3/sub1", limit=17, order=order) == expected


def held_trigrams(db: Any) -> set[tuple[Any, ...]]:
    return set(db.execute(text(
        "SELECT bucket_id, trigram, path, path_search FROM file_trigrams")).all())


def trigrams_of_files(db: Any) -> set[tuple[Any, ...]]:
    files = db.execute(text("SELECT bucket_id, path, path_search FROM files")).all()
    return {(bucket, window, path, folded) for bucket, path, folded in files
            for window in windows(folded)}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # its table alone
def test_file_trigrams_follow_every_write_to_files(app: Any, client: Any, tenant: Tenant) -> None:
    new_bucket(client, tenant, "docs")
    new_bucket(client, tenant, "gone")
    headers = tenant.headers()

    def upload(bucket: str, path: str, **fields: Any) -> dict[str, Any]:
        response = client.post(f"/v1/buckets/{bucket}/files", headers=headers,
                               files={"file": ("x", b"x", "text/plain")},
                               data={"path": path, **fields})
        assert response.status_code == 201, response.text
        return dict(response.json())

    upload("docs", "Reports/Q1.pdf")
    one = upload("docs", "Reports/Q1.pdf", overwrite="true")
    two = upload("docs", "drafts/Straße.txt")
    assert client.patch(f"/v1/files/{two['id']}", headers=headers,
                        json={"path": "final/STRASSE.txt"}).status_code == 200
    copy = client.post(f"/v1/files/{one['id']}/copy", headers=headers,
                       json={"bucket": "gone", "path": "ΐ/copy.pdf"})
    assert copy.status_code == 201, copy.text
    upload("gone", "kept/until/the/bucket/goes.bin")
    three = upload("docs", "to/delete.bin")
    assert client.delete(f"/v1/files/{three['id']}", headers=headers).status_code == 204
    with app.state.runtime.session_factory() as db:
        assert held_trigrams(db) == trigrams_of_files(db)
        assert len(held_trigrams(db)) > 50

    run(app.state.runtime)  # the deleted file's row goes
    assert client.delete("/v1/buckets/gone", headers=headers,
                         params={"force": "true"}).status_code == 204
    run(app.state.runtime)
    with app.state.runtime.session_factory() as db:
        assert held_trigrams(db) == trigrams_of_files(db)
        paths = {path for _, _, path, _ in held_trigrams(db)}
        assert paths == {"Reports/Q1.pdf", "final/STRASSE.txt"}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_search_walks_file_trigrams_only_once_its_migration_is_recorded(
        app: Any, client: Any, tenant: Tenant) -> None:
    """Code deployed ahead of migration 0005 (or while it fills the table) walks the path index:
    the table may be missing or hold only some files."""
    from cloudnexus.files.listing import ListQuery, page_statement

    mine = new_bucket(client, tenant, "mine")
    paths = [f"dir{n % 7}/file-{n}.txt" for n in range(700)]
    add_files(app, tenant, mine, paths)
    analyze(app)
    with app.state.runtime.session_factory() as db:
        head = db.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        db.execute(text("UPDATE alembic_version SET version_num = '0004'"))
        db.commit()
        try:
            bucket = db.get(Bucket, uuid.UUID(mine))
            statement = str(page_statement(db, bucket=bucket, query=ListQuery(q="dir3/")))
            found = all_pages(client, tenant, "mine", q="dir3/", limit=30)
        finally:
            db.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
            db.commit()
    assert "file_trigrams" not in statement
    assert found == sorted(path for path in paths if "dir3/" in path)
