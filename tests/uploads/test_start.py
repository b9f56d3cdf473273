"""Starting an upload. What waits for the disk: on PostgreSQL a single PUT's upload commits
without waiting (its loss in a crash leaves nothing behind but a URL not yet used); a
multipart upload, which storage already holds, and every complete, which makes a file, wait
as any write does. And the file it would replace, read in the same statement as its hold."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, func, select

from cloudnexus.buckets.models import Bucket
from cloudnexus.uploads.models import Upload
from cloudnexus.workspaces.models import Workspace
from tests.conftest import Tenant
from tests.test_sql_statements import counted_statements


def committing_later(statements: list[str]) -> bool:
    return any("synchronous_commit" in statement for statement in statements)


@pytest.fixture
def on_postgresql(app: Any, client: Any, tenant: Tenant) -> None:
    if not app.state.runtime.settings.uses_postgresql:
        pytest.skip("SQLite has no asynchronous commit")
    assert client.post("/v1/buckets", json={"name": "media"},
                       headers=tenant.headers()).status_code == 201


def reserved_in(app: Any, tenant: Tenant) -> tuple[int, int]:
    """The bytes and files the tenant's workspace holds for uploads in flight."""
    with app.state.runtime.engine.connect() as connection:
        row = connection.execute(select(Workspace.reserved_bytes, Workspace.reserved_files)
                                 .where(Workspace.id == tenant.workspace_id)).one()
    return int(row[0]), int(row[1])


def start(client: Any, tenant: Tenant, path: str, size: int, **extra: Any) -> dict[str, Any]:
    created = client.post("/v1/buckets/media/uploads", headers=tenant.headers(), json={
        "path": path, "size": size, "content_type": "application/octet-stream", **extra})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def test_a_single_put_upload_commits_without_waiting_for_the_disk(
        app: Any, client: Any, tenant: Tenant, on_postgresql: None) -> None:
    with counted_statements(app.state.runtime) as statements:
        start(client, tenant, "a.bin", 3)
    assert committing_later(statements), statements


def test_a_multipart_upload_waits_for_the_disk(
        app: Any, client: Any, tenant: Tenant, on_postgresql: None) -> None:
    with counted_statements(app.state.runtime) as statements:
        start(client, tenant, "big.bin", 3, multipart=True)
    assert statements and not committing_later(statements), statements


def test_the_complete_that_makes_the_file_waits_for_the_disk(
        app: Any, client: Any, tenant: Tenant, on_postgresql: None) -> None:
    upload = start(client, tenant, "a.bin", 3)
    assert client.put(upload["url"], content=b"abc",
                      headers=upload["headers"]).status_code == 200
    with counted_statements(app.state.runtime) as statements:
        done = client.post(f"/v1/uploads/{upload['id']}/complete", headers=tenant.headers())
    assert done.status_code == 200, done.text
    assert statements and not committing_later(statements), statements


def test_a_file_gone_between_the_hold_and_its_check_is_not_replaced(
        app: Any, client: Any, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file held the path when the upload's start looked; the path's own check, a moment
    later, found none (it was deleted meanwhile). On SQLite the hold was made: the upload
    makes a file of its own, not the gone one's id. On PostgreSQL the one statement that
    holds and records was refused for that file: 409, to retry, and nothing held."""
    from cloudnexus.files import service as files

    assert client.post("/v1/buckets", json={"name": "media"},
                       headers=tenant.headers()).status_code == 201
    held = client.post("/v1/buckets/media/files", headers=tenant.headers(),
                       files={"file": ("a.bin", b"old", "application/octet-stream")})
    assert held.status_code == 201, held.text
    monkeypatch.setattr(files, "ensure_path_free", lambda *args, **kwargs: None)
    if not app.state.runtime.settings.uses_postgresql:
        upload = start(client, tenant, "a.bin", 3)
        assert upload["file_id"] != held.json()["id"]
        return
    refused = client.post("/v1/buckets/media/uploads", headers=tenant.headers(), json={
        "path": "a.bin", "size": 3, "content_type": "application/octet-stream"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "conflict"
    assert reserved_in(app, tenant) == (0, 0)


def test_a_bucket_deleted_before_the_start_holds_nothing(
        app: Any, client: Any, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bucket was read, then deleted before its upload's row was written: 404, and no
    quota held for an upload that does not exist (on PostgreSQL the row's foreign key fails
    the one statement that holds and records)."""
    from cloudnexus.buckets import reads

    assert client.post("/v1/buckets", json={"name": "media"},
                       headers=tenant.headers()).status_code == 201
    read_bucket = reads.read_bucket

    async def read_then_deleted(*args: Any, **kwargs: Any) -> Any:
        settings = await read_bucket(*args, **kwargs)
        with app.state.runtime.engine.begin() as connection:
            connection.execute(delete(Bucket).where(Bucket.id == settings.id))
        return settings

    monkeypatch.setattr("cloudnexus.buckets.dependencies.read_bucket", read_then_deleted)
    refused = client.post("/v1/buckets/media/uploads", headers=tenant.headers(), json={
        "path": "a.bin", "size": 3, "content_type": "application/octet-stream"})
    assert refused.status_code == 404, refused.text
    assert refused.json()["error"]["code"] == "not_found"
    assert reserved_in(app, tenant) == (0, 0)
    with app.state.runtime.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Upload)).scalar_one() == 0
