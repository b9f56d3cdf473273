"""Presigned uploads end to end, with real HTTP clients, on every database and storage."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from sqlalchemy import func, select

from cloudnexus.files.models import File
from cloudnexus.uploads.models import Upload
from cloudnexus.workspaces.models import Workspace
from tests.conftest import Tenant

MiB = 1024 * 1024


def start(client: Any, tenant: Tenant, data: bytes, *, path: str = "clip.bin",
          content_type: str = "application/octet-stream", **extra: Any) -> Any:
    return client.post("/v1/buckets/media/uploads", headers=tenant.headers(), json={
        "path": path, "size": len(data), "content_type": content_type, **extra})


def stored_bytes(app: Any, file_id: str) -> bytes:
    """Read the object back with the backend's own client: boto3 for S3, the folder locally."""
    settings = app.state.runtime.settings
    with app.state.runtime.session_factory() as db:
        key = db.scalars(select(File.storage_key).where(File.id == uuid.UUID(file_id))).one()
    if settings.uses_local_storage:
        return (settings.data_dir / "objects" / key).read_bytes()  # type: ignore[no-any-return]
    s3 = boto3.client("s3", endpoint_url=str(settings.s3_endpoint_url), region_name="us-east-1")
    return s3.get_object(Bucket=settings.s3_bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]


def test_single_put_round_trip(stack_app: Any, stack_client: Any, stack_tenant: Tenant,
                               bucket: str, send: Any) -> None:
    data = os.urandom(300_000)
    created = start(stack_client, stack_tenant, data, sha256=hashlib.sha256(data).hexdigest())
    assert created.status_code == 201, created.text
    upload = created.json()
    assert upload["method"] == "PUT" and upload["expires_at"].endswith("Z")
    put = send("PUT", upload["url"], data=data, headers=upload["headers"])
    assert put.status_code == 200, put.text
    completed = stack_client.post(f"/v1/uploads/{upload['id']}/complete",
                                  headers=stack_tenant.headers())
    assert completed.status_code == 200, completed.text
    file = completed.json()
    assert (file["id"], file["status"], file["size"]) == (upload["file_id"], "ready", len(data))
    assert file["sha256"] == hashlib.sha256(data).hexdigest()
    assert stored_bytes(stack_app, file["id"]) == data
    listed = stack_client.get("/v1/buckets/media/files", headers=stack_tenant.headers()).json()
    assert [item["id"] for item in listed["items"]] == [file["id"]]
    location = stack_client.get(f"/v1/files/{file['id']}/content", headers=stack_tenant.headers(),
                                follow_redirects=False).headers["location"]
    assert send("GET", location).content == data
    again = stack_client.post(f"/v1/uploads/{upload['id']}/complete",
                              headers=stack_tenant.headers())
    assert again.status_code == 200 and again.json()["id"] == file["id"]  # a retry is safe


def test_upload_never_sent_is_never_listed(stack_client: Any, stack_tenant: Tenant,
                                           bucket: str, send: Any) -> None:
    upload = start(stack_client, stack_tenant, b"abc").json()
    early = stack_client.post(f"/v1/uploads/{upload['id']}/complete",
                              headers=stack_tenant.headers())
    assert early.status_code == 422 and early.json()["error"]["code"] == "upload_mismatch"
    assert stack_client.get("/v1/buckets/media/files",
                            headers=stack_tenant.headers()).json()["items"] == []
    assert stack_client.get(f"/v1/files/{upload['file_id']}",
                            headers=stack_tenant.headers()).status_code == 404
    send("PUT", upload["url"], data=b"abc", headers=upload["headers"])
    late = stack_client.post(f"/v1/uploads/{upload['id']}/complete",
                             headers=stack_tenant.headers())
    assert late.status_code == 200  # still pending after the early attempt


def test_stored_object_that_differs_is_removed_and_422(stack_app: Any, stack_client: Any,
                                                       stack_tenant: Tenant, bucket: str,
                                                       send: Any) -> None:
    upload = start(stack_client, stack_tenant, b"declared!").json()
    if stack_app.state.runtime.settings.uses_local_storage:
        refused = send("PUT", upload["url"], data=b"other bytes, longer",
                       headers={**upload["headers"], "Content-Length": "19"})
        assert refused.status_code == 403  # the local backend checks the signed length
        stack_app.state.runtime.storage.put(_key(stack_app, upload), _stream(b"other"),
                                            content_type="application/octet-stream")
    else:  # moto does not check the signed length: it stores what arrives
        send("PUT", upload["url"], data=b"other", headers={
            "Content-Type": upload["headers"]["Content-Type"]})
    response = stack_client.post(f"/v1/uploads/{upload['id']}/complete",
                                 headers=stack_tenant.headers())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "upload_mismatch"
    assert {"field": "size", "declared": 9, "stored": 5} in error["details"]
    from cloudnexus.storage.base import ObjectNotFound

    with pytest.raises(ObjectNotFound):
        stack_app.state.runtime.storage.head(_key(stack_app, upload))
    assert stack_client.get("/v1/buckets/media/files",
                            headers=stack_tenant.headers()).json()["items"] == []


def test_checksum_mismatch_is_422(stack_app: Any, stack_client: Any, stack_tenant: Tenant,
                                  bucket: str) -> None:
    data = b"the real bytes"
    upload = start(stack_client, stack_tenant, data, sha256="0" * 64).json()
    stack_app.state.runtime.storage.put(_key(stack_app, upload), _stream(data),
                                        content_type="application/octet-stream")
    response = stack_client.post(f"/v1/uploads/{upload['id']}/complete",
                                 headers=stack_tenant.headers())
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "sha256"


def test_multipart_upload_survives_a_crash_and_resumes(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, bucket: str,
        send: Any) -> None:
    data = os.urandom(33 * MiB)  # three parts of 16 MiB, 16 MiB and 1 MiB
    upload = start(stack_client, stack_tenant, data, multipart=True,
                   sha256=hashlib.sha256(data).hexdigest()).json()
    assert upload["method"] == "MULTIPART" and upload["url"] is None
    size = upload["part_size"]
    assert [part["part_number"] for part in upload["parts"]] == [1, 2, 3]
    first = upload["parts"][0]
    assert send("PUT", first["url"], data=data[:size]).status_code == 200
    # The client crashes here and forgets everything but the upload id.
    resumed = stack_client.get(f"/v1/uploads/{upload['id']}",
                               headers=stack_tenant.headers()).json()
    assert [part["part_number"] for part in resumed["parts_received"]] == [1]
    assert [part["part_number"] for part in resumed["parts"]] == [2, 3]
    for part in resumed["parts"]:
        number = part["part_number"]
        chunk = data[(number - 1) * size:number * size]
        assert send("PUT", part["url"], data=chunk).status_code == 200
    received = stack_client.get(f"/v1/uploads/{upload['id']}",
                                headers=stack_tenant.headers()).json()
    assert received["parts"] == []
    parts = [{"part_number": p["part_number"], "etag": p["etag"]}
             for p in received["parts_received"]]
    completed = stack_client.post(f"/v1/uploads/{upload['id']}/complete",
                                  headers=stack_tenant.headers(), json={"parts": parts})
    assert completed.status_code == 200, completed.text
    assert completed.json()["size"] == len(data)
    assert stored_bytes(stack_app, completed.json()["id"]) == data


def test_signed_put_binds_type_length_and_checksum(stack_app: Any, stack_client: Any,
                                                   stack_tenant: Tenant, bucket: str,
                                                   send: Any) -> None:
    data = b"0123456789"
    upload = start(stack_client, stack_tenant, data, sha256=hashlib.sha256(data).hexdigest(),
                   content_type="text/plain").json()
    query = parse_qs(urlsplit(upload["url"]).query)
    if stack_app.state.runtime.settings.uses_local_storage:
        for headers in ({**upload["headers"], "Content-Type": "text/html"},
                        {**upload["headers"], "Content-Length": "11"}):
            body = data + b"!" if headers.get("Content-Length") == "11" else data
            assert send("PUT", upload["url"], data=body, headers=headers).status_code == 403
        return
    signed = query["X-Amz-SignedHeaders"][0].split(";")
    assert {"content-type", "content-length", "x-amz-checksum-sha256"} <= set(signed)
    assert int(query["X-Amz-Expires"][0]) <= stack_app.state.runtime.settings.presign_expires


def test_bucket_rules_quota_and_abort(stack_app: Any, stack_client: Any, stack_tenant: Tenant,
                                      bucket: str, send: Any) -> None:
    headers = stack_tenant.headers()
    stack_client.patch("/v1/buckets/media", headers=headers, json={
        "max_file_size": 100, "allowed_content_types": ["video/*"]})
    assert start(stack_client, stack_tenant, b"x" * 101, content_type="video/mp4"
                 ).json()["error"]["code"] == "payload_too_large"
    assert start(stack_client, stack_tenant, b"x", content_type="text/plain"
                 ).json()["error"]["code"] == "unsupported_media_type"
    from cloudnexus.workspaces import service

    with stack_app.state.runtime.session_factory() as db:
        service.set_quota(db, workspace=service.get(db, workspace_id=stack_tenant.workspace_id),
                          max_bytes=100)
    held = start(stack_client, stack_tenant, b"x" * 60, content_type="video/mp4").json()
    over = start(stack_client, stack_tenant, b"x" * 60, path="two", content_type="video/mp4")
    assert over.status_code == 403 and over.json()["error"]["code"] == "quota_exceeded"
    assert over.json()["error"]["details"] == [  # the upload in flight counts as used
        {"quota": "max_bytes", "limit": 100, "used": 60, "requested": 60}]
    assert _reserved(stack_app, stack_tenant) == 60
    assert stack_client.delete(f"/v1/uploads/{held['id']}", headers=headers).status_code == 204
    assert _reserved(stack_app, stack_tenant) == 0
    assert stack_client.post(f"/v1/uploads/{held['id']}/complete",
                             headers=headers).status_code == 404
    fits = start(stack_client, stack_tenant, b"x" * 60, path="two", content_type="video/mp4")
    assert fits.status_code == 201


def test_taken_path_and_overwrite(stack_client: Any, stack_tenant: Tenant, bucket: str,
                                  send: Any) -> None:
    first = _upload(stack_client, stack_tenant, send, b"first")
    assert start(stack_client, stack_tenant, b"second").status_code == 409
    second = _upload(stack_client, stack_tenant, send, b"second!", overwrite=True)
    assert second["path"] == first["path"] and second["id"] == first["id"]
    assert stack_client.get(f"/v1/files/{first['id']}",
                            headers=stack_tenant.headers()).json()["size"] == 7
    usage = stack_client.get("/v1/workspace", headers=stack_tenant.headers()).json()["usage"]
    assert usage == {"bytes": 7, "files": 1, "derived_bytes": 0}


def test_idempotent_upload_creation(stack_app: Any, stack_client: Any, stack_tenant: Tenant,
                                    bucket: str) -> None:
    body = {"path": "same.bin", "size": 3, "content_type": "application/octet-stream"}
    headers = {**stack_tenant.headers(), "Idempotency-Key": "upload-1"}
    first = stack_client.post("/v1/buckets/media/uploads", json=body, headers=headers)
    again = stack_client.post("/v1/buckets/media/uploads", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    with stack_app.state.runtime.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(Upload)) == 1
    other = stack_client.post("/v1/buckets/media/uploads", headers=headers,
                              json={**body, "size": 4})
    assert other.status_code == 409


def _upload(client: Any, tenant: Tenant, send: Any, data: bytes, **extra: Any) -> Any:
    upload = start(client, tenant, data, **extra).json()
    send("PUT", upload["url"], data=data, headers=upload["headers"])
    completed = client.post(f"/v1/uploads/{upload['id']}/complete", headers=tenant.headers())
    assert completed.status_code == 200, completed.text
    return completed.json()


def _key(app: Any, upload: dict[str, Any]) -> str:
    with app.state.runtime.session_factory() as db:
        return db.scalars(select(Upload.storage_key).where(
            Upload.id == uuid.UUID(upload["id"]))).one()


def _reserved(app: Any, tenant: Tenant) -> int:
    with app.state.runtime.session_factory() as db:
        return db.get(Workspace, tenant.workspace_id).reserved_bytes  # type: ignore[union-attr]


def _stream(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def test_the_file_of_a_pending_upload_is_404_naming_the_upload(
        stack_client: Any, stack_tenant: Tenant, bucket: str, send: Any,
        tenant_factory: Any) -> None:
    data = b"not yet"
    upload = start(stack_client, stack_tenant, data, path="users/1/later.bin").json()
    expected = (f"File {upload['file_id']} is not ready: its upload {upload['id']} is pending; "
                f"send its bytes, then POST /v1/uploads/{upload['id']}/complete")
    for route in ("", "/content"):
        pending = stack_client.get(f"/v1/files/{upload['file_id']}{route}",
                                   headers=stack_tenant.headers(), follow_redirects=False)
        assert pending.status_code == 404 and pending.json()["error"]["code"] == "not_found"
        assert pending.json()["error"]["message"] == expected
    # Nobody else learns of it: another workspace, or a token for another folder.
    other = tenant_factory("other")
    assert stack_client.get(f"/v1/files/{upload['file_id']}", headers=other.headers()).json()[
        "error"]["message"] == "File not found"
    stack_client.post("/v1/signing-keys", headers=stack_tenant.headers(),
                      json={"name": "app", "algorithm": "HS256"})
    token = stack_client.post("/v1/tokens", headers=stack_tenant.headers(), json={
        "sub": "u2", "expires_in": 60,
        "cnx": {"buckets": ["media"], "prefix": "users/2/", "ops": ["read"]}}).json()["token"]
    outside = stack_client.get(f"/v1/files/{upload['file_id']}",
                               headers={"Authorization": f"Bearer {token}"})
    assert outside.json()["error"]["message"] == "File not found"
    assert send("PUT", upload["url"], data=data, headers=upload["headers"]).status_code == 200
    assert stack_client.post(f"/v1/uploads/{upload['id']}/complete",
                             headers=stack_tenant.headers()).status_code == 200
    assert stack_client.get(f"/v1/files/{upload['file_id']}",
                            headers=stack_tenant.headers()).status_code == 200
