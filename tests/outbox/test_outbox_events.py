"""GET /v1/events: an event for every change, written with it, read back behind a cursor."""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import Tenant


def events(client: Any, tenant: Tenant, count: int, **params: Any) -> list[dict[str, Any]]:
    """The events, following next_cursor until `count` have come (on PostgreSQL a
    transaction of anyone else's still in flight on the server may hold the newest back a
    moment: docs/events.md), then once more to show there are no others."""
    seen: list[dict[str, Any]] = []
    cursor, deadline = None, time.monotonic() + 30
    while True:
        query = {**params, **({"after": cursor} if cursor else {})}
        page = client.get("/v1/events", params=query, headers=tenant.headers())
        assert page.status_code == 200, page.text
        body = page.json()
        seen += body["items"]
        cursor = body["next_cursor"]
        if not body["items"] and (len(seen) >= count or time.monotonic() > deadline):
            return seen
        if not body["items"]:
            time.sleep(0.05)


def upload(client: Any, tenant: Tenant, path: str, data: bytes = b"hello") -> dict[str, Any]:
    response = client.post("/v1/buckets/docs/files", headers=tenant.headers(),
                           files={"file": (path, data, "text/plain")}, data={"path": path})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_every_change_is_an_event_with_its_resource(app: Any, client: Any,
                                                    tenant: Tenant) -> None:
    from cloudnexus.uploads.models import Upload

    bucket = client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers()).json()
    changed_bucket = client.patch("/v1/buckets/docs", json={"max_file_size": 1000},
                                  headers=tenant.headers()).json()
    created = upload(client, tenant, "a.txt")
    moved = client.patch(f"/v1/files/{created['id']}", json={"path": "b.txt"},
                         headers=tenant.headers()).json()
    tagged = client.patch(f"/v1/files/{created['id']}", json={"tags": ["x"]},
                          headers=tenant.headers()).json()
    copied = client.post(f"/v1/files/{created['id']}/copy", json={"path": "c.txt"},
                         headers=tenant.headers()).json()
    assert client.delete(f"/v1/files/{copied['id']}",
                         headers=tenant.headers()).status_code == 204
    started = client.post("/v1/buckets/docs/uploads", headers=tenant.headers(), json={
        "path": "d.txt", "size": 5, "content_type": "text/plain"}).json()
    with app.state.runtime.session_factory() as db:
        key = db.get(Upload, uuid.UUID(started["id"])).storage_key
    # Other bytes than declared, as a store that checks no signature would keep them.
    app.state.runtime.storage.put(key, io.BytesIO(b"hello!"), content_type="text/plain")
    assert client.post(f"/v1/uploads/{started['id']}/complete",
                       headers=tenant.headers()).status_code == 422
    started = client.post("/v1/buckets/docs/uploads", headers=tenant.headers(), json={
        "path": "e.txt", "size": 5, "content_type": "text/plain"}).json()
    assert client.put(started["url"], content=b"hello",
                      headers=started["headers"]).status_code == 200
    completed = client.post(f"/v1/uploads/{started['id']}/complete",
                            headers=tenant.headers()).json()
    assert client.delete("/v1/buckets/docs?force=true",
                         headers=tenant.headers()).status_code == 204

    seen = events(client, tenant, 12)
    assert [event["type"] for event in seen] == [
        "bucket.created", "bucket.updated", "file.created", "file.updated", "file.updated",
        "file.created", "file.deleted", "upload.failed", "file.created", "file.deleted",
        "file.deleted", "bucket.deleted"]
    assert len({event["id"] for event in seen}) == len(seen)
    data = [event["data"] for event in seen]
    assert data[0] == {"bucket": bucket} and data[1] == {"bucket": changed_bucket}
    public = {"public_url": None}
    assert data[2] == {"file": {**created, **public}}
    assert data[3] == {"file": {**moved, **public}, "previous_path": "a.txt"}
    assert data[4] == {"file": {**tagged, **public}}  # no move, no previous_path
    assert data[5] == {"file": {**copied, **public}}
    assert data[6]["file"]["id"] == copied["id"]
    failed = data[7]["upload"]
    assert (failed["path"], failed["status"], failed["bucket"]) == ("d.txt", "failed", "docs")
    assert "url" not in failed
    assert failed["error"]["code"] == "upload_mismatch"  # why it failed, as complete said
    assert data[8] == {"file": {**completed, **public}}
    assert {item["file"]["path"] for item in data[9:11]} == {"b.txt", "e.txt"}
    assert data[11]["bucket"]["id"] == bucket["id"]


def test_an_expired_upload_is_an_event(app: Any, client: Any, tenant: Tenant) -> None:
    from cloudnexus import maintenance
    from cloudnexus.db.columns import utcnow
    from cloudnexus.uploads.models import Upload

    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    started = client.post("/v1/buckets/docs/uploads", headers=tenant.headers(), json={
        "path": "late.txt", "size": 5, "content_type": "text/plain"}).json()
    with app.state.runtime.session_factory() as db:
        db.get(Upload, uuid.UUID(started["id"])).expires_at = (
            utcnow() - timedelta(seconds=1))
        db.commit()
    assert maintenance.run(app.state.runtime).expired_uploads == 1
    failed = events(client, tenant, 1, type="upload.failed")
    assert [event["data"]["upload"]["id"] for event in failed] == [started["id"]]
    assert failed[0]["data"]["upload"]["status"] == "expired"


def test_a_refused_change_writes_no_event(client: Any, tenant: Tenant) -> None:
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    upload(client, tenant, "a.txt")
    again = client.post("/v1/buckets/docs/files", headers=tenant.headers(),
                        files={"file": ("a.txt", b"x", "text/plain")}, data={"path": "a.txt"})
    assert again.status_code == 409
    assert client.post("/v1/buckets", json={"name": "docs"},
                       headers=tenant.headers()).status_code == 409
    assert [e["type"] for e in events(client, tenant, 2)] == ["bucket.created", "file.created"]


def test_pages_filters_and_cursor(client: Any, tenant: Tenant) -> None:
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    for number in range(5):
        upload(client, tenant, f"{number}.txt")
    assert len(events(client, tenant, 6)) == 6
    first = client.get("/v1/events", params={"limit": 2}, headers=tenant.headers()).json()
    assert [e["type"] for e in first["items"]] == ["bucket.created", "file.created"]
    rest = client.get("/v1/events", params={"after": first["next_cursor"]},
                      headers=tenant.headers()).json()
    assert [e["data"]["file"]["path"] for e in rest["items"]] == [
        "1.txt", "2.txt", "3.txt", "4.txt"]
    # Caught up: the same cursor comes back, to poll with.
    empty = client.get("/v1/events", params={"after": rest["next_cursor"]},
                       headers=tenant.headers()).json()
    assert empty == {"items": [], "next_cursor": rest["next_cursor"]}
    assert [e["type"] for e in events(client, tenant, 1, type="bucket.*")] == ["bucket.created"]
    assert len(events(client, tenant, 5, type="file.created,bucket.deleted")) == 5


@pytest.mark.parametrize("params", [{"after": "not a cursor!"}, {"after": "eDp5"},
                                    {"type": "file.moved"}, {"limit": 0}, {"limit": 1001}])
def test_bad_queries_are_4xx(client: Any, tenant: Tenant, params: dict[str, Any]) -> None:
    response = client.get("/v1/events", params=params, headers=tenant.headers())
    assert response.status_code in (400, 422), response.text
    assert "error" in response.json()


def test_admin_keys_only(client: Any, tenant: Tenant) -> None:
    for scopes in (("files:read",), ("files:read", "files:write")):
        response = client.get("/v1/events", headers=tenant.headers(tenant.key(*scopes)))
        assert response.status_code == 403


def test_workspaces_see_only_their_own(client: Any, tenant_factory: Any) -> None:
    a, b = tenant_factory("a-corp"), tenant_factory("b-corp")
    client.post("/v1/buckets", json={"name": "docs"}, headers=a.headers())
    assert [e["type"] for e in events(client, a, 1)] == ["bucket.created"]
    assert events(client, b, 0) == []  # read once A's event is visible to all
    # A's cursor shows B nothing of A's either.
    cursor = client.get("/v1/events", headers=a.headers()).json()["next_cursor"]
    assert client.get("/v1/events", params={"after": cursor},
                      headers=b.headers()).json()["items"] == []


def test_retention(app: Any, client: Any, tenant: Tenant) -> None:
    from cloudnexus import maintenance
    from cloudnexus.db.columns import utcnow
    from cloudnexus.events.models import Event

    client.post("/v1/buckets", json={"name": "old"}, headers=tenant.headers())
    client.post("/v1/buckets", json={"name": "new"}, headers=tenant.headers())
    days = app.state.runtime.settings.event_retention_days
    assert days == 7
    with app.state.runtime.session_factory() as db:
        old = next(e for e in db.query(Event).all() if e.data["bucket"]["name"] == "old")
        old.created_at = utcnow() - timedelta(days=days, minutes=1)
        db.commit()
    assert maintenance.run(app.state.runtime).events_forgotten == 1
    assert [e["data"]["bucket"]["name"] for e in events(client, tenant, 1)] == ["new"]


def test_a_presigned_upload_completes_itself(client: Any, tenant: Tenant) -> None:
    """The local backend's PUT completes the upload, with complete's checks; a later complete
    answers the same File; the file.created event is written once."""
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    started = client.post("/v1/buckets/docs/uploads", headers=tenant.headers(), json={
        "path": "self.txt", "size": 5, "content_type": "text/plain",
        "sha256": hashlib.sha256(b"hello").hexdigest()}).json()
    assert client.put(started["url"], content=b"hello",
                      headers=started["headers"]).status_code == 200
    shown = client.get(f"/v1/uploads/{started['id']}", headers=tenant.headers()).json()
    assert shown["status"] == "completed"
    file = client.get(f"/v1/files/{started['file_id']}", headers=tenant.headers())
    assert file.status_code == 200 and file.json()["status"] == "ready"
    later = client.post(f"/v1/uploads/{started['id']}/complete", headers=tenant.headers())
    assert later.status_code == 200 and later.json() == file.json()
    created = events(client, tenant, 1, type="file.created")
    assert [event["data"]["file"]["id"] for event in created] == [started["file_id"]]
