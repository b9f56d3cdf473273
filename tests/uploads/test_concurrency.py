"""Invariants under concurrency: one winner per path, never past the quota."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloudnexus.workspaces import service as workspaces
from tests.conftest import Tenant

CLIENTS = 8


@pytest.fixture
def bucket(client: Any, tenant: Tenant) -> str:
    client.post("/v1/buckets", json={"name": "race"}, headers=tenant.headers())
    return "race"


def in_parallel(app: Any, count: int, work: Any) -> list[Any]:
    def run(index: int) -> Any:
        with TestClient(app) as own:
            return work(own, index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_uploads_to_one_path_one_wins(app: Any, client: Any, tenant: Tenant,
                                                 bucket: str) -> None:
    app.state.object_arrived = None  # no completing on arrival: the clients' completes race
    uploads = []
    for index in range(CLIENTS):
        data = f"version {index}".encode()
        upload = client.post("/v1/buckets/race/uploads", headers=tenant.headers(), json={
            "path": "same/path.txt", "size": len(data), "content_type": "text/plain"}).json()
        assert client.put(upload["url"], content=data, headers=upload["headers"]).status_code == 200
        uploads.append(upload)

    statuses = in_parallel(app, CLIENTS, lambda own, i: own.post(
        f"/v1/uploads/{uploads[i]['id']}/complete", headers=tenant.headers()).status_code)
    assert sorted(statuses) == [200] + [409] * (CLIENTS - 1), statuses
    listed = client.get("/v1/buckets/race/files", headers=tenant.headers()).json()["items"]
    assert len(listed) == 1
    workspace = client.get("/v1/workspace", headers=tenant.headers()).json()
    assert workspace["usage"] == {"bytes": listed[0]["size"], "files": 1, "derived_bytes": 0}
    with app.state.runtime.session_factory() as db:
        assert workspaces.get(db, workspace_id=tenant.workspace_id).reserved_bytes == 0


def test_concurrent_direct_uploads_to_one_path_one_wins(app: Any, tenant: Tenant,
                                                        bucket: str) -> None:
    statuses = in_parallel(app, CLIENTS, lambda own, i: own.post(
        "/v1/buckets/race/files", headers=tenant.headers(),
        files={"file": ("same.txt", f"v{i}".encode(), "text/plain")}).status_code)
    assert sorted(statuses) == [201] + [409] * (CLIENTS - 1), statuses


def test_concurrent_uploads_near_the_quota_never_exceed_it(app: Any, client: Any,
                                                           tenant: Tenant, bucket: str) -> None:
    size = 1000
    with app.state.runtime.session_factory() as db:
        workspaces.set_quota(db, workspace=workspaces.get(db, workspace_id=tenant.workspace_id),
                             max_bytes=5 * size)
    responses = in_parallel(app, 12, lambda own, i: own.post(
        "/v1/buckets/race/uploads", headers=tenant.headers(),
        json={"path": f"f{i}", "size": size, "content_type": "text/plain"}))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 5 + [403] * 7, statuses
    assert all(r.json()["error"]["code"] == "quota_exceeded"
               for r in responses if r.status_code == 403)
    with app.state.runtime.session_factory() as db:
        workspace = workspaces.get(db, workspace_id=tenant.workspace_id)
        assert workspace.reserved_bytes == 5 * size <= workspace.max_bytes  # type: ignore[operator]


def test_concurrent_direct_uploads_near_the_quota_never_exceed_it(
        app: Any, client: Any, tenant: Tenant, bucket: str) -> None:
    """A direct upload's record checks the quota as it counts the file: of twelve at once
    with room for five, five are made, each with its event, and the others leave nothing."""
    with app.state.runtime.session_factory() as db:
        workspaces.set_quota(db, workspace=workspaces.get(db, workspace_id=tenant.workspace_id),
                             max_files=5)
    responses = in_parallel(app, 12, lambda own, i: own.post(
        f"/v1/buckets/{bucket}/files", headers=tenant.headers(),
        files={"file": (f"f{i}.txt", b"12345", "text/plain")}))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 5 + [403] * 7, statuses
    assert all(r.json()["error"]["code"] == "quota_exceeded"
               for r in responses if r.status_code == 403)
    made = {r.json()["id"] for r in responses if r.status_code == 201}
    listed = client.get(f"/v1/buckets/{bucket}/files", headers=tenant.headers()).json()
    assert {item["id"] for item in listed["items"]} == made
    events = client.get("/v1/events?type=file.created", headers=tenant.headers()).json()
    assert sorted(event["data"]["file"]["id"] for event in events["items"]) == sorted(made)
    usage = client.get("/v1/workspace", headers=tenant.headers()).json()["usage"]
    assert usage == {"bytes": 25, "files": 5, "derived_bytes": 0}


def test_concurrent_direct_uploads_and_overwrites_in_two_buckets_count_exactly(
        app: Any, client: Any, tenant: Tenant, bucket: str) -> None:
    """New files and overwrites at once, in two buckets of one workspace: their locks (the
    path's, the file's, the workspace's, then the bucket's counts) are taken in one order,
    so none waits on another in a circle, and every count ends exact."""
    client.post("/v1/buckets", json={"name": "other"}, headers=tenant.headers())

    def send(own: Any, index: int) -> int:
        name, path = (bucket, "other")[index % 2], f"n{index}.txt"
        if index % 3 == 0:
            path = "shared.txt"
        return int(own.post(f"/v1/buckets/{name}/files", headers=tenant.headers(),
                            data={"path": path, "overwrite": "true"},
                            files={"file": (path, b"x" * index, "text/plain")}).status_code)

    assert in_parallel(app, 16, send) == [201] * 16
    sizes = []
    for name in (bucket, "other"):
        files = client.get(f"/v1/buckets/{name}/files", headers=tenant.headers()).json()
        stats = client.get(f"/v1/buckets/{name}", headers=tenant.headers()).json()["usage"]
        held = [item["size"] for item in files["items"]]
        assert stats == {"bytes": sum(held), "files": len(held), "derived_bytes": 0}, name
        sizes += held
    assert len(sizes) == 16 - 4  # six overwrite one path, three in each bucket: two files
    usage = client.get("/v1/workspace", headers=tenant.headers()).json()["usage"]
    assert usage == {"bytes": sum(sizes), "files": len(sizes), "derived_bytes": 0}


def test_an_upload_started_while_its_bucket_turns_public_takes_the_public_prefix(
        app: Any, tenant: Tenant, bucket: str) -> None:
    """The upload waits for the visibility change to commit, then makes its key from it (it
    read the old visibility and went on under private/ before)."""
    from cloudnexus.buckets import service as buckets
    from cloudnexus.uploads.models import Upload

    with app.state.runtime.session_factory() as db:
        changing = buckets.get(db, workspace_id=tenant.workspace_id, name=bucket)
        db.refresh(changing, with_for_update=True)  # what a visibility change holds
        with ThreadPoolExecutor(1) as pool:
            started = pool.submit(in_parallel, app, 1, lambda own, _: own.post(
                f"/v1/buckets/{bucket}/uploads", headers=tenant.headers(),
                json={"path": "a.txt", "size": 5, "content_type": "text/plain"}).json())
            time.sleep(0.5)
            assert not started.done()
            changing.public = True
            db.commit()
            upload = started.result(timeout=30)[0]
    with app.state.runtime.session_factory() as db:
        stored = db.get(Upload, uuid.UUID(upload["id"]))
        assert stored is not None and stored.storage_key.startswith("uploads/")
