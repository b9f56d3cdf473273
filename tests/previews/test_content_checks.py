"""Sniffing at upload: the detected type on File, and a bucket's allowed_content_types applied
to it (an executable or a page declared image/png is refused; a presigned one fails, its
object removed and its quota given back) — on every stack. Bucket preview settings."""

from __future__ import annotations

from typing import Any

import pytest

from cloudnexus.storage.base import ObjectNotFound
from tests.conftest import Tenant
from tests.previews.images import ELF, HTML, encoded, jpeg_oriented, quadrants
from tests.previews.test_previews import Previewer, assert_error, upload
from tests.uploads.test_upload_lifecycle import complete, reserved, storage_key


@pytest.fixture
def images_only(stack_client: Any, stack_tenant: Tenant) -> Any:
    made = stack_client.post("/v1/buckets", headers=stack_tenant.headers(), json={
        "name": "photos", "allowed_content_types": ["image/*"]})
    assert made.status_code == 201
    return stack_client


@pytest.mark.parametrize("body", [ELF, HTML, ELF + bytes(2 * 1024 * 1024)],
                         ids=["executable", "html", "executable sent on as it arrives"])
def test_a_direct_upload_of_other_bytes_declared_an_image_is_415(
        images_only: Any, stack_tenant: Tenant, stack_app: Any, body: bytes) -> None:
    response = images_only.post("/v1/buckets/photos/files", headers=stack_tenant.headers(),
                                files={"file": ("cat.png", body, "image/png")})
    assert_error(response, 415, "unsupported_media_type")
    assert "the bucket does not accept" in response.json()["error"]["message"]
    listed = images_only.get("/v1/buckets/photos/files", headers=stack_tenant.headers())
    assert listed.json()["items"] == []
    storage = stack_app.state.runtime.storage
    assert [info.key for prefix in ("private/", "uploads/")
            for info in storage.list_objects(prefix)] == []
    usage = images_only.get("/v1/workspace", headers=stack_tenant.headers()).json()["usage"]
    assert usage == {"bytes": 0, "files": 0, "derived_bytes": 0}


def test_a_real_image_is_taken_and_described(images_only: Any, stack_tenant: Tenant) -> None:
    file = upload(images_only, stack_tenant, jpeg_oriented(6), content_type="image/png")
    # Declared PNG, detected JPEG: both are images, which the bucket allows.
    assert file["content_type"] == "image/png"
    assert file["detected_content_type"] == "image/jpeg"
    assert file["image"] == {"width": 300, "height": 200, "format": "jpeg"}
    shown = images_only.get(f"/v1/files/{file['id']}", headers=stack_tenant.headers()).json()
    assert shown == file
    listed = images_only.get("/v1/buckets/photos/files", headers=stack_tenant.headers())
    assert listed.json()["items"] == [file]


def start_upload(client: Any, tenant: Tenant, data: bytes) -> dict[str, Any]:
    created = client.post("/v1/buckets/photos/uploads", headers=tenant.headers(), json={
        "path": "cat.png", "size": len(data), "content_type": "image/png"})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("body", [ELF, HTML], ids=["executable", "html"])
def test_a_presigned_upload_of_other_bytes_fails_and_gives_everything_back(
        images_only: Any, stack_tenant: Tenant, stack_app: Any, send: Any,
        body: bytes) -> None:
    """The local backend's PUT refuses the bytes as they arrive; on S3 (whose notification
    reaches only a deployed dispatcher) the client's complete does: the same 415 either way,
    and every later complete repeats it."""
    upload_ = start_upload(images_only, stack_tenant, body)
    key = storage_key(stack_app, upload_)
    assert reserved(stack_app, stack_tenant) == (len(body), 1)
    assert send("PUT", upload_["url"], data=body, headers=upload_["headers"]).status_code \
        == 200
    first = complete(images_only, stack_tenant, upload_)
    assert_error(first, 415, "unsupported_media_type")
    assert "the bucket does not accept" in first.json()["error"]["message"]
    state = images_only.get(f"/v1/uploads/{upload_['id']}", headers=stack_tenant.headers())
    assert state.json()["status"] == "failed"
    assert state.json()["error"]["code"] == "unsupported_media_type"
    assert reserved(stack_app, stack_tenant) == (0, 0)
    with pytest.raises(ObjectNotFound):
        stack_app.state.runtime.storage.head(key)
    again = complete(images_only, stack_tenant, upload_)
    assert_error(again, 415, "unsupported_media_type")  # over: a new upload is needed
    assert again.json()["error"]["message"] == first.json()["error"]["message"]


def test_a_presigned_image_is_sniffed_from_its_first_bytes(images_only: Any,
                                                          stack_tenant: Tenant,
                                                          send: Any) -> None:
    data = encoded(quadrants((2000, 1500)), "PNG")  # larger than what is sniffed
    upload_ = start_upload(images_only, stack_tenant, data)
    assert send("PUT", upload_["url"], data=data, headers=upload_["headers"]).status_code \
        == 200
    done = complete(images_only, stack_tenant, upload_)
    assert done.status_code == 200, done.text
    assert done.json()["detected_content_type"] == "image/png"
    assert done.json()["image"] == {"width": 2000, "height": 1500, "format": "png"}


@pytest.mark.parametrize(("body", "detected"), [(ELF, "application/octet-stream"),
                                                 (None, "image/png")], ids=["executable", "png"])
def test_a_multipart_upload_checked_by_its_sha256_is_sniffed_from_that_read(
        images_only: Any, stack_tenant: Tenant, stack_app: Any, send: Any,
        monkeypatch: pytest.MonkeyPatch, body: bytes | None, detected: str) -> None:
    """The read-back that checks a named SHA-256 gives the first bytes too: no ranged read
    (which some S3-compatible servers answer by reading the whole object)."""
    import hashlib

    data = body if body is not None else encoded(quadrants((400, 300)), "PNG")
    created = images_only.post("/v1/buckets/photos/uploads", headers=stack_tenant.headers(),
                               json={"path": "cat.png", "size": len(data), "multipart": True,
                                     "content_type": "image/png"})
    assert created.status_code == 201, created.text
    upload_ = created.json()
    sent = send("PUT", upload_["parts"][0]["url"], data=data)
    storage = stack_app.state.runtime.storage
    ranged_reads: list[str] = []
    read_head = storage.read_head
    monkeypatch.setattr(storage, "read_head",
                        lambda key, length: ranged_reads.append(key) or read_head(key, length))
    done = complete(images_only, stack_tenant, upload_,
                    parts=[{"part_number": 1, "etag": sent.headers["etag"]}],
                    sha256=hashlib.sha256(data).hexdigest())
    assert ranged_reads == []
    if body is None:
        assert done.status_code == 200, done.text
        assert done.json()["detected_content_type"] == detected
    else:
        assert_error(done, 415, "unsupported_media_type")
        assert f"'{detected}'" in done.json()["error"]["message"]


def test_bucket_preview_settings(client: Any, tenant: Tenant) -> None:
    made = client.post("/v1/buckets", headers=tenant.headers(), json={
        "name": "photos", "preview_sizes": ["64x64", "256x256"]})
    assert made.status_code == 201, made.text
    assert (made.json()["previews_enabled"], made.json()["preview_sizes"]) == (
        True, ["64x64", "256x256"])
    file = upload(client, tenant, encoded(quadrants(), "PNG"), content_type="image/png")

    def ask(**query: Any) -> Any:
        return client.get(f"/v1/files/{file['id']}/preview", params=query,
                          headers=tenant.headers(), follow_redirects=False)

    assert ask(width=64, height=64).status_code == 302
    assert ask(width=256, height=256, format="png").status_code == 302
    for query in ({"width": 65, "height": 64}, {"width": 64}):
        assert_error(ask(**query), 422, "validation_error")
    changed = client.patch("/v1/buckets/photos", headers=tenant.headers(),
                           json={"previews_enabled": False, "preview_sizes": None})
    assert changed.status_code == 200
    assert (changed.json()["previews_enabled"], changed.json()["preview_sizes"]) == (False, None)
    assert_error(ask(width=64, height=64), 403, "forbidden")
    client.patch("/v1/buckets/photos", headers=tenant.headers(), json={"previews_enabled": True})
    assert ask(width=65, height=64).status_code == 302
    for sizes in (["64"], ["0x10"], ["2501x10"], [], ["64X64"]):
        bad = client.patch("/v1/buckets/photos", headers=tenant.headers(),
                           json={"preview_sizes": sizes})
        assert_error(bad, 422, "validation_error")


def test_the_limits_come_from_the_settings(make_settings: Any, database_url: str) -> None:
    from tests.conftest import client_of, running_app

    settings = make_settings(database_url=database_url, preview_max_bytes=2000,
                             preview_max_pixels=10_000, log_level="WARNING")
    for app in running_app(settings):
        tenant = Tenant(app.state.runtime, "limits")
        for client in client_of(app):
            client.post("/v1/buckets", headers=tenant.headers(), json={"name": "photos"})
            small = upload(client, tenant, encoded(quadrants((100, 100)), "PNG"), path="s",
                           content_type="image/png")
            wide = upload(client, tenant, encoded(quadrants((101, 100)), "PNG"), path="w",
                          content_type="image/png")
            heavy = upload(client, tenant, jpeg_oriented(1, (100, 100)), path="h")
            assert small["size"] <= 2000 < heavy["size"]
            previewer = Previewer(client, tenant, client.request)
            assert previewer.ask(small["id"], width=10).status_code == 302
            assert_error(previewer.ask(wide["id"], width=10), 413, "payload_too_large")
            refused = previewer.ask(heavy["id"], width=10)
            assert_error(refused, 413, "payload_too_large")
            assert "2000 bytes" in refused.json()["error"]["message"]


def test_an_upload_completing_on_arrival_checks_the_bytes_too(
        images_only: Any, stack_tenant: Tenant, stack_app: Any, send: Any) -> None:
    if getattr(stack_app.state, "object_arrived", None) is None:
        pytest.skip("only the local backend completes an upload when its PUT arrives")
    upload_ = start_upload(images_only, stack_tenant, ELF)
    key = storage_key(stack_app, upload_)
    assert send("PUT", upload_["url"], data=ELF, headers=upload_["headers"]).status_code == 200
    state = images_only.get(f"/v1/uploads/{upload_['id']}", headers=stack_tenant.headers())
    assert state.json()["status"] == "failed"
    assert reserved(stack_app, stack_tenant) == (0, 0)
    with pytest.raises(ObjectNotFound):
        stack_app.state.runtime.storage.head(key)
    assert_error(complete(images_only, stack_tenant, upload_), 415, "unsupported_media_type")
