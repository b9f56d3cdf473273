"""A presigned single PUT that completes itself when its bytes arrive (the local backend's
PUT) is answered by its client's later complete exactly as the client's own complete would
have been: the same File, or the same refusal (status, code, message, details) — and a
SHA-256 named at that complete is still compared. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.conftest import Tenant
from tests.uploads.test_upload_lifecycle import assert_error


def _start(client: Any, tenant: Tenant, data: bytes, **extra: Any) -> dict[str, Any]:
    created = client.post("/v1/buckets/media/uploads", headers=tenant.headers(), json={
        "path": "clip.bin", "size": len(data), "content_type": "application/octet-stream",
        **extra})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def _complete(client: Any, tenant: Tenant, upload: dict[str, Any], **body: Any) -> Any:
    return client.post(f"/v1/uploads/{upload['id']}/complete", headers=tenant.headers(),
                       json=body or None)


def _shown(client: Any, tenant: Tenant, upload: dict[str, Any]) -> Any:
    return client.get(f"/v1/uploads/{upload['id']}", headers=tenant.headers())


def test_an_arrival_refused_for_a_taken_path_is_a_409_at_every_complete(
        client: Any, tenant: Tenant) -> None:
    client.post("/v1/buckets", json={"name": "media"}, headers=tenant.headers())
    upload = _start(client, tenant, b"late")
    taken = client.post("/v1/buckets/media/files", headers=tenant.headers(),
                        files={"file": ("clip.bin", b"first", "text/plain")})
    assert taken.status_code == 201, taken.text
    assert client.put(upload["url"], content=b"late",
                      headers=upload["headers"]).status_code == 200
    shown = _shown(client, tenant, upload)
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "aborted" and shown.json()["url"] is None
    assert shown.json()["error"]["code"] == "conflict"
    first = _complete(client, tenant, upload)
    assert_error(first, 409, "conflict")
    assert "already exists" in first.json()["error"]["message"]
    again = _complete(client, tenant, upload)
    assert again.json()["error"] | {"request_id": None} == \
        first.json()["error"] | {"request_id": None}
    assert again.status_code == 409
    assert_error(client.delete(f"/v1/uploads/{upload['id']}", headers=tenant.headers()),
                 404, "not_found")
    files = client.get("/v1/buckets/media/files", headers=tenant.headers()).json()["items"]
    assert [file["id"] for file in files] == [taken.json()["id"]]
    usage = client.get("/v1/workspace", headers=tenant.headers()).json()["usage"]
    assert (usage["files"], usage["bytes"]) == (1, len(b"first"))


def test_a_complete_after_arrival_compares_the_sha256_it_names(
        client: Any, tenant: Tenant) -> None:
    client.post("/v1/buckets", json={"name": "media"}, headers=tenant.headers())
    data = b"arrived bytes"
    digest, other = hashlib.sha256(data).hexdigest(), hashlib.sha256(b"other").hexdigest()
    upload = _start(client, tenant, data)  # declared without a sha256
    assert client.put(upload["url"], content=data,
                      headers=upload["headers"]).status_code == 200
    assert _shown(client, tenant, upload).json()["status"] == "completed"
    refused = _complete(client, tenant, upload, sha256=other)
    assert_error(refused, 422, "upload_mismatch")
    assert refused.json()["error"]["details"] == [
        {"field": "sha256", "declared": other, "stored": digest}]
    done = _complete(client, tenant, upload, sha256=digest.upper())
    assert done.status_code == 200, done.text
    assert done.json()["sha256"] == digest and done.json()["id"] == upload["file_id"]
    assert _complete(client, tenant, upload).json() == done.json()

    declared = _start(client, tenant, data, sha256=digest, overwrite=True)
    assert client.put(declared["url"], content=data,
                      headers=declared["headers"]).status_code == 200
    assert_error(_complete(client, tenant, declared, sha256=other), 422, "validation_error")
    assert _complete(client, tenant, declared, sha256=digest).status_code == 200
