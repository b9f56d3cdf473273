"""Overwrite: the file keeps its id, and so its `public_url`; its bytes, etag and size change."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from cloudnexus.errors import Conflict
from cloudnexus.files.models import File
from cloudnexus.files.reads import ReadFile
from cloudnexus.files.schemas import FileOut
from cloudnexus.previews import service as previews
from cloudnexus.previews.variants import Variant, derived_prefix
from tests.conftest import Tenant
from tests.outbox.test_outbox_events import events as outbox_events


def direct(client: Any, tenant: Tenant, data: bytes, *, bucket: str = "site",
           path: str = "avatar.txt", **fields: Any) -> dict[str, Any]:
    response = client.post(f"/v1/buckets/{bucket}/files", headers=tenant.headers(),
                           files={"file": (path, data, "text/plain")},
                           data={"path": path, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def presigned(client: Any, tenant: Tenant, send: Any, data: bytes, *, bucket: str = "site",
              path: str = "avatar.txt", **fields: Any) -> tuple[dict[str, Any], Any]:
    """The upload as created, and the answer of its complete."""
    created = client.post(f"/v1/buckets/{bucket}/uploads", headers=tenant.headers(), json={
        "path": path, "size": len(data), "content_type": "text/plain", **fields})
    assert created.status_code == 201, created.text
    upload = created.json()
    assert send("PUT", upload["url"], data=data, headers=upload["headers"]).status_code == 200
    return upload, client.post(f"/v1/uploads/{upload['id']}/complete", headers=tenant.headers())


def public_bytes(client: Any, tenant: Tenant, send: Any, file: dict[str, Any]) -> bytes:
    """The bytes behind the file's `public_url` (moto's S3 grants no anonymous read: there,
    the bytes under the same key through the content route's redirect)."""
    if file["public_url"].startswith("http://testserver/"):
        return send("GET", file["public_url"]).content  # type: ignore[no-any-return]
    redirect = client.get(f"/v1/files/{file['id']}/content", headers=tenant.headers(),
                          follow_redirects=False)
    assert file["public_url"].split("?")[0] in redirect.headers["location"]
    return send("GET", redirect.headers["location"]).content  # type: ignore[no-any-return]


def stored_keys(app: Any, tenant: Tenant) -> set[str]:
    storage = app.state.runtime.storage
    return {info.key for prefix in ("uploads/", "private/", "previews/")
            for info in storage.list_objects(f"{prefix}{tenant.workspace_id}/")}


def record_keys(app: Any) -> set[str]:
    with app.state.runtime.session_factory() as db:
        return set(db.scalars(select(File.storage_key)))


@pytest.fixture
def site(stack_client: Any, stack_tenant: Tenant) -> str:
    created = stack_client.post("/v1/buckets", json={"name": "site", "public": True},
                                headers=stack_tenant.headers())
    assert created.status_code == 201, created.text
    return "site"


def test_a_direct_overwrite_keeps_the_id_and_the_public_url(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, site: str, send: Any) -> None:
    first = direct(stack_client, stack_tenant, b"first version")
    second = direct(stack_client, stack_tenant, b"second!", overwrite="true")
    assert second["id"] == first["id"]
    assert second["public_url"] == first["public_url"] is not None
    assert second["etag"] != first["etag"] and second["size"] == 7
    assert public_bytes(stack_client, stack_tenant, send, second) == b"second!"
    shown = stack_client.get(f"/v1/files/{first['id']}", headers=stack_tenant.headers())
    assert shown.json()["etag"] == second["etag"]
    assert stored_keys(stack_app, stack_tenant) == record_keys(stack_app)  # nothing left over
    usage = stack_client.get("/v1/workspace", headers=stack_tenant.headers()).json()["usage"]
    assert usage == {"bytes": 7, "files": 1, "derived_bytes": 0}


def test_a_presigned_overwrite_names_and_keeps_the_id_and_completes_again_the_same(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, site: str, send: Any) -> None:
    first = direct(stack_client, stack_tenant, b"first version")
    upload, completed = presigned(stack_client, stack_tenant, send, b"v2 bytes", overwrite=True)
    assert upload["file_id"] == first["id"]  # announced when the upload is made
    assert completed.status_code == 200, completed.text
    file = completed.json()
    assert (file["id"], file["public_url"], file["size"]) == (first["id"], first["public_url"], 8)
    again = stack_client.post(f"/v1/uploads/{upload['id']}/complete",
                              headers=stack_tenant.headers())
    assert again.status_code == 200 and again.json() == file
    shown = stack_client.get(f"/v1/uploads/{upload['id']}", headers=stack_tenant.headers())
    assert shown.json()["file_id"] == first["id"]
    assert public_bytes(stack_client, stack_tenant, send, file) == b"v2 bytes"
    assert stored_keys(stack_app, stack_tenant) == record_keys(stack_app)


def test_an_overwrite_that_finds_the_path_free_at_complete_makes_its_own_file(
        stack_client: Any, stack_tenant: Tenant, site: str, send: Any) -> None:
    first = direct(stack_client, stack_tenant, b"first version")
    headers = stack_tenant.headers()
    created = stack_client.post(f"/v1/buckets/{site}/uploads", headers=headers, json={
        "path": "avatar.txt", "size": 2, "content_type": "text/plain", "overwrite": True})
    upload = created.json()
    assert stack_client.delete(f"/v1/files/{first['id']}", headers=headers).status_code == 204
    send("PUT", upload["url"], data=b"v2", headers=upload["headers"])
    completed = stack_client.post(f"/v1/uploads/{upload['id']}/complete", headers=headers)
    assert completed.status_code == 200, completed.text
    file = completed.json()
    assert file["id"] != first["id"]
    assert stack_client.get(f"/v1/uploads/{upload['id']}",
                            headers=headers).json()["file_id"] == file["id"]


def test_a_copy_onto_a_taken_path_keeps_the_target_id(
        stack_client: Any, stack_tenant: Tenant, site: str, send: Any) -> None:
    target = direct(stack_client, stack_tenant, b"old", path="b.txt")
    source = direct(stack_client, stack_tenant, b"copied bytes", path="a.txt")
    copied = stack_client.post(f"/v1/files/{source['id']}/copy", headers=stack_tenant.headers(),
                               json={"path": "b.txt", "overwrite": True})
    assert copied.status_code == 201, copied.text
    assert copied.json()["id"] == target["id"]
    assert public_bytes(stack_client, stack_tenant, send, copied.json()) == b"copied bytes"


def test_an_overwrite_is_a_delete_then_a_create_of_the_same_id(
        client: Any, tenant: Tenant) -> None:
    client.post("/v1/buckets", json={"name": "site"}, headers=tenant.headers())
    first = direct(client, tenant, b"one")
    second = direct(client, tenant, b"two!", overwrite="true")
    events = outbox_events(client, tenant, 4)  # the bucket's, then the files'
    changes = [(event["type"], event["data"]["file"]["id"], event["data"]["file"]["etag"])
               for event in events if event["type"].startswith("file.")]
    assert changes == [("file.created", first["id"], first["etag"]),
                       ("file.deleted", first["id"], first["etag"]),
                       ("file.created", first["id"], second["etag"])]


def test_a_share_link_follows_the_file_to_its_new_bytes(client: Any, tenant: Tenant) -> None:
    client.post("/v1/buckets", json={"name": "site"}, headers=tenant.headers())
    first = direct(client, tenant, b"one")
    link = client.post(f"/v1/files/{first['id']}/links", headers=tenant.headers(),
                       json={"expires_in": 600}).json()
    direct(client, tenant, b"two!", overwrite="true")
    assert client.get(link["url"], follow_redirects=True).content == b"two!"


def test_a_preview_made_of_the_bytes_an_overwrite_replaced_is_refused(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, site: str) -> None:
    first = direct(stack_client, stack_tenant, b"old bytes")
    read_before = stack_client.get(f"/v1/files/{first['id']}",
                                   headers=stack_tenant.headers()).json()
    direct(stack_client, stack_tenant, b"new bytes!", overwrite="true")
    runtime = stack_app.state.runtime
    with runtime.session_factory() as db:
        key = db.scalar(select(File.storage_key).where(File.id == uuid.UUID(first["id"])))
    stale = ReadFile(FileOut(**read_before), storage_key=key, public=True)
    with runtime.session_factory() as db, pytest.raises(Conflict):
        previews.store(db, runtime.storage, file=stale, variant=Variant(32, None),
                       data=b"rendered from the old bytes")
    assert list(runtime.storage.list_objects(derived_prefix(key))) == []
