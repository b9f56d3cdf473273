"""Crash safety: maintenance expires uploads, finishes interrupted deletes, removes orphans,
marks records whose bytes are gone — on every pairing of database and storage."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update
from typer.testing import CliRunner

from cloudnexus.db.columns import utcnow
from cloudnexus.files import deletion
from cloudnexus.files.models import MISSING, File
from cloudnexus.maintenance import run
from cloudnexus.storage.base import ObjectNotFound
from cloudnexus.uploads.models import ABORTED, EXPIRED, Upload
from cloudnexus.workspaces.models import Workspace
from tests.conftest import Tenant

NOW = timedelta(0)


@pytest.fixture
def bucket(stack_client: Any, stack_tenant: Tenant) -> str:
    stack_client.post("/v1/buckets", json={"name": "box"}, headers=stack_tenant.headers())
    return "box"


def direct(client: Any, tenant: Tenant, path: str, data: bytes = b"bytes",
           overwrite: bool = False) -> dict[str, Any]:
    response = client.post("/v1/buckets/box/files", headers=tenant.headers(),
                           files={"file": (path, data, "text/plain")},
                           data={"overwrite": str(overwrite).lower()})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def all_objects(storage: Any) -> list[str]:
    return [info.key for prefix in ("private/", "uploads/")
            for info in storage.list_objects(prefix)]


def file_row(app: Any, file_id: str) -> File | None:
    with app.state.runtime.session_factory() as db:
        return db.get(File, uuid.UUID(file_id))


def test_expired_uploads_are_aborted_and_release_their_quota(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, bucket: str) -> None:
    runtime = stack_app.state.runtime
    single = stack_client.post("/v1/buckets/box/uploads", headers=stack_tenant.headers(), json={
        "path": "never-sent", "size": 10, "content_type": "text/plain"}).json()
    multi = stack_client.post("/v1/buckets/box/uploads", headers=stack_tenant.headers(), json={
        "path": "half-sent", "size": 10, "content_type": "text/plain", "multipart": True}).json()
    with runtime.session_factory() as db:
        db.execute(update(Upload).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
    report = run(runtime, orphan_grace=NOW)
    assert report.expired_uploads == 2
    with runtime.session_factory() as db:
        statuses = set(db.scalars(select(Upload.status)))
        workspace = db.get(Workspace, stack_tenant.workspace_id)
    assert statuses == {EXPIRED}
    assert workspace is not None and workspace.reserved_bytes == workspace.reserved_files == 0
    assert [m for m in runtime.storage.list_multipart("private/")] == []
    for upload in (single, multi):
        assert stack_client.get(f"/v1/uploads/{upload['id']}",
                                headers=stack_tenant.headers()).status_code == 404
    assert stack_client.get("/v1/buckets/box/files",
                            headers=stack_tenant.headers()).json()["items"] == []


def test_upload_aborted_while_maintenance_expires_its_batch_gives_back_its_quota_once(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, bucket: str) -> None:
    """Maintenance commits each expired upload, which unlocks the rest of its batch: a client
    may abort one of them before maintenance reaches it, and only one of the two may act."""
    runtime, headers = stack_app.state.runtime, stack_tenant.headers()
    ids = [stack_client.post("/v1/buckets/box/uploads", headers=headers, json={
        "path": path, "size": 100, "content_type": "text/plain"}).json()["id"]
        for path in ("a", "b")]
    with runtime.session_factory() as db:
        db.execute(update(Upload).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
    aborts: list[int] = []

    def abort_the_rest(session: Any) -> None:  # after maintenance's first commit
        if not aborts:
            aborts.extend(stack_client.delete(f"/v1/uploads/{upload_id}",
                                              headers=headers).status_code for upload_id in ids)

    event.listen(runtime.session_factory, "after_commit", abort_the_rest)
    try:
        report = run(runtime, orphan_grace=NOW)
    finally:
        event.remove(runtime.session_factory, "after_commit", abort_the_rest)
    assert sorted(aborts) == [204, 404]  # one already expired, the other aborted by the client
    with runtime.session_factory() as db:
        workspace = db.get(Workspace, stack_tenant.workspace_id)
        statuses = sorted(db.scalars(select(Upload.status)))
    assert workspace is not None
    assert (workspace.reserved_bytes, workspace.reserved_files) == (0, 0)
    assert statuses == [ABORTED, EXPIRED] and report.expired_uploads == 1


def test_object_without_a_record_is_removed_after_the_grace_period(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, bucket: str) -> None:
    runtime = stack_app.state.runtime
    kept = direct(stack_client, stack_tenant, "kept.txt")
    orphan = f"private/{stack_tenant.workspace_id}/{uuid.uuid4()}/{uuid.uuid4()}"
    runtime.storage.put(orphan, io.BytesIO(b"lost"), content_type="text/plain")
    young = run(runtime, orphan_grace=timedelta(hours=1))
    assert young.orphans_removed == 0 and orphan in all_objects(runtime.storage)
    dry = run(runtime, dry_run=True, orphan_grace=NOW)
    assert dry.orphans_removed == 1 and dry.orphan_keys == [orphan]
    assert orphan in all_objects(runtime.storage)
    report = run(runtime, orphan_grace=NOW)
    assert report.orphans_removed == 1
    assert orphan not in all_objects(runtime.storage)
    assert file_row(stack_app, kept["id"]) is not None
    assert len(all_objects(runtime.storage)) == 1


def test_delete_interrupted_after_the_storage_call_is_finished(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, bucket: str) -> None:
    runtime = stack_app.state.runtime
    by_retry = direct(stack_client, stack_tenant, "retry.txt")
    by_maintenance = direct(stack_client, stack_tenant, "maint.txt")
    for file in (by_retry, by_maintenance):  # crash: marked and object gone, record left
        with runtime.session_factory() as db:
            row = db.get(File, uuid.UUID(file["id"]))
            deletion.mark_deleting(db, [row])
            runtime.storage.delete(row.storage_key)
    headers = stack_tenant.headers()
    assert stack_client.get(f"/v1/files/{by_retry['id']}", headers=headers).status_code == 404
    assert stack_client.get("/v1/buckets/box/files", headers=headers).json()["items"] == []
    assert stack_client.delete(f"/v1/files/{by_retry['id']}", headers=headers).status_code == 204
    assert stack_client.delete(f"/v1/files/{by_retry['id']}", headers=headers).status_code == 404
    report = run(runtime, orphan_grace=NOW)
    assert report.finished_deletes == 1
    assert file_row(stack_app, by_maintenance["id"]) is None
    assert stack_client.get("/v1/workspace", headers=headers).json()["usage"] == {
        "bytes": 0, "files": 0, "derived_bytes": 0}
    assert all_objects(runtime.storage) == []


def test_record_whose_object_vanished_is_marked_missing(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, bucket: str) -> None:
    runtime = stack_app.state.runtime
    file = direct(stack_client, stack_tenant, "vanishing.txt")
    row = file_row(stack_app, file["id"])
    assert row is not None
    runtime.storage.delete(row.storage_key)
    with runtime.session_factory() as db:  # made before this maintenance run started
        db.execute(update(File).values(created_at=utcnow() - timedelta(minutes=5)))
        db.commit()
    report = run(runtime, orphan_grace=NOW)
    assert report.missing_marked == 1 and report.missing_files == [file["id"]]
    assert file_row(stack_app, file["id"]).status == MISSING  # type: ignore[union-attr]
    assert stack_client.get(f"/v1/files/{file['id']}",
                            headers=stack_tenant.headers()).status_code == 404


def test_no_orphan_survives_maintenance(stack_app: Any, stack_client: Any,
                                        stack_tenant: Tenant, bucket: str) -> None:
    runtime = stack_app.state.runtime
    for index in range(3):
        direct(stack_client, stack_tenant, f"f{index}.txt")
    replaced = direct(stack_client, stack_tenant, "f0.txt", b"new", overwrite=True)
    assert replaced["path"] == "f0.txt"
    for _ in range(2):
        runtime.storage.put(f"uploads/{uuid.uuid4()}/{uuid.uuid4()}/{uuid.uuid4()}",
                            io.BytesIO(b"x"), content_type="text/plain")
    run(runtime, orphan_grace=NOW)
    with runtime.session_factory() as db:
        keys = set(db.scalars(select(File.storage_key)))
    assert set(all_objects(runtime.storage)) == keys
    for key in keys:
        runtime.storage.head(key)
    with pytest.raises(ObjectNotFound):
        runtime.storage.head(f"private/{uuid.uuid4()}")


def test_cli_dry_run_prints_a_json_report(monkeypatch: pytest.MonkeyPatch,
                                          stack_settings: Any) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("DATABASE_URL", stack_settings.database_url.get_secret_value())
    for name in ("data_dir", "s3_bucket", "s3_endpoint_url"):
        if (value := getattr(stack_settings, name)) is not None:
            monkeypatch.setenv(name.upper(), str(value))
    result = CliRunner().invoke(__import__("cloudnexus.cli").cli.app,
                                ["maintenance", "--dry-run"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["dry_run"] is True and report["orphans_removed"] == 0
