"""An upload leaves 'pending' once (completed, aborted, expired or failed) and its quota is
given back once; a completed upload's URL cannot change its file; a multipart upload whose
object fails the check is over, not stranded — on every database and storage."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from cloudnexus.storage.base import ObjectNotFound
from cloudnexus.uploads import service
from cloudnexus.uploads.models import ABORTED, Upload
from cloudnexus.workspaces.models import Workspace
from tests.conftest import Tenant


def start(client: Any, tenant: Tenant, data: bytes, **extra: Any) -> dict[str, Any]:
    created = client.post("/v1/buckets/media/uploads", headers=tenant.headers(), json={
        "path": "clip.bin", "size": len(data), "content_type": "application/octet-stream",
        **extra})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def sent(client: Any, tenant: Tenant, send: Any, data: bytes) -> dict[str, Any]:
    """An upload started and its bytes PUT to its URL."""
    upload = start(client, tenant, data)
    assert send("PUT", upload["url"], data=data, headers=upload["headers"]).status_code == 200
    return upload


def complete(client: Any, tenant: Tenant, upload: dict[str, Any], **body: Any) -> Any:
    return client.post(f"/v1/uploads/{upload['id']}/complete", headers=tenant.headers(),
                       json=body or None)


def download(client: Any, tenant: Tenant, send: Any, file_id: str) -> bytes:
    location = client.get(f"/v1/files/{file_id}/content", headers=tenant.headers(),
                          follow_redirects=False).headers["location"]
    return send("GET", location).content  # type: ignore[no-any-return]


def reserved(app: Any, tenant: Tenant) -> tuple[int, int]:
    with app.state.runtime.session_factory() as db:
        workspace = db.get(Workspace, tenant.workspace_id)
        return workspace.reserved_bytes, workspace.reserved_files  # type: ignore[union-attr]


def storage_key(app: Any, upload: dict[str, Any]) -> str:
    with app.state.runtime.session_factory() as db:
        return db.scalars(select(Upload.storage_key).where(
            Upload.id == uuid.UUID(upload["id"]))).one()


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["request_id"]


def test_put_url_cannot_replace_a_completed_files_bytes(
        stack_client: Any, stack_tenant: Tenant, bucket: str, send: Any) -> None:
    data = b"good bytes"
    upload = sent(stack_client, stack_tenant, send, data)  # no sha256: signed by its length
    file = complete(stack_client, stack_tenant, upload).json()
    again = send("PUT", upload["url"], data=b"EVIL bytes", headers=upload["headers"])
    assert again.status_code == 412  # S3's PreconditionFailed, or the local backend's error
    assert download(stack_client, stack_tenant, send, file["id"]) == data
    assert stack_client.get(f"/v1/files/{file['id']}",
                            headers=stack_tenant.headers()).json()["etag"] == file["etag"]


def test_put_retried_after_a_lost_answer_still_completes(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, bucket: str,
        send: Any) -> None:
    """Both backends answer 412 (the object exists, as S3 does for If-None-Match: *), which
    the client takes as done: complete records the bytes."""
    data = b"sent twice"
    upload = sent(stack_client, stack_tenant, send, data)
    retry = send("PUT", upload["url"], data=data, headers=upload["headers"])
    assert retry.status_code == 412
    done = complete(stack_client, stack_tenant, upload)
    assert done.status_code == 200, done.text
    assert download(stack_client, stack_tenant, send, done.json()["id"]) == data


def test_abort_that_lost_the_race_to_complete_leaves_the_file_alone(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, bucket: str,
        send: Any) -> None:
    runtime, data = stack_app.state.runtime, b"kept bytes"
    upload = sent(stack_client, stack_tenant, send, data)
    with runtime.session_factory() as db:
        stale = db.get(Upload, uuid.UUID(upload["id"]))  # read as pending
        db.commit()  # sessions keep their objects across commits
        assert complete(stack_client, stack_tenant, upload).status_code == 200
        assert not service.finish(db, runtime.storage, upload=stale, status=ABORTED)
    assert download(stack_client, stack_tenant, send, upload["file_id"]) == data
    assert reserved(stack_app, stack_tenant) == (0, 0)
    assert stack_client.get("/v1/workspace", headers=stack_tenant.headers()).json()["usage"] \
        == {"bytes": len(data), "files": 1, "derived_bytes": 0}
    assert stack_client.get(f"/v1/uploads/{upload['id']}",
                            headers=stack_tenant.headers()).json()["status"] == "completed"


def test_complete_that_lost_the_race_to_an_abort_records_nothing(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, bucket: str,
        send: Any) -> None:
    runtime, data = stack_app.state.runtime, b"aborted bytes"
    stack_app.state.object_arrived = None  # completed by this test, not by the PUT
    upload = sent(stack_client, stack_tenant, send, data)
    storage, real_head, aborts = runtime.storage, runtime.storage.head, []

    def head_then_abort(key: str) -> Any:  # the abort lands once the complete has checked
        info = real_head(key)
        aborts.append(stack_client.delete(f"/v1/uploads/{upload['id']}",
                                          headers=stack_tenant.headers()).status_code)
        return info

    with runtime.session_factory() as db:
        stale = db.get(Upload, uuid.UUID(upload["id"]))
        db.commit()
        storage.head = head_then_abort
        try:
            with pytest.raises(Exception) as raised:
                service.complete(db, storage, upload=stale, parts=None)
        finally:
            del storage.head
    assert aborts == [204]
    assert getattr(raised.value, "status", None) == 404
    assert stack_client.get(f"/v1/files/{upload['file_id']}",
                            headers=stack_tenant.headers()).status_code == 404
    assert reserved(stack_app, stack_tenant) == (0, 0)
    assert stack_client.get("/v1/workspace", headers=stack_tenant.headers()).json()["usage"] \
        == {"bytes": 0, "files": 0, "derived_bytes": 0}


def test_multipart_upload_whose_object_fails_the_check_is_over(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, bucket: str,
        send: Any) -> None:
    """The assembly consumed the parts: the upload fails, its quota is given back, and
    every later request about it answers in the contract's shape."""
    data, declared = b"0123456789", hashlib.sha256(b"other bytes").hexdigest()
    upload = start(stack_client, stack_tenant, data, multipart=True, sha256=declared)
    assert send("PUT", upload["parts"][0]["url"], data=data).status_code == 200
    first = complete(stack_client, stack_tenant, upload)
    assert_error(first, 422, "upload_mismatch")
    assert {"field": "sha256", "declared": declared,
            "stored": hashlib.sha256(data).hexdigest()} in first.json()["error"]["details"]
    shown = stack_client.get(f"/v1/uploads/{upload['id']}", headers=stack_tenant.headers())
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "failed" and shown.json()["parts"] is None
    assert_error(complete(stack_client, stack_tenant, upload), 422, "upload_mismatch")
    assert_error(stack_client.delete(f"/v1/uploads/{upload['id']}",
                                     headers=stack_tenant.headers()), 409, "conflict")
    assert reserved(stack_app, stack_tenant) == (0, 0)
    with pytest.raises(ObjectNotFound):
        stack_app.state.runtime.storage.head(storage_key(stack_app, upload))
    assert stack_client.get("/v1/buckets/media/files",
                            headers=stack_tenant.headers()).json()["items"] == []


def test_a_sha256_given_at_complete_is_checked_like_a_declared_one(
        stack_client: Any, stack_tenant: Tenant, bucket: str, send: Any) -> None:
    """A client that hashes while its parts go out names the SHA-256 at complete."""
    data = b"0123456789"
    digest = hashlib.sha256(data).hexdigest()
    upload = start(stack_client, stack_tenant, data, multipart=True)
    part = send("PUT", upload["parts"][0]["url"], data=data)
    parts = [{"part_number": 1, "etag": part.headers["ETag"]}]
    done = complete(stack_client, stack_tenant, upload, parts=parts, sha256=digest.upper())
    assert done.status_code == 200, done.text
    assert done.json()["sha256"] == digest

    wrong = hashlib.sha256(b"other bytes").hexdigest()
    upload = start(stack_client, stack_tenant, data, multipart=True, overwrite=True)
    part = send("PUT", upload["parts"][0]["url"], data=data)
    parts = [{"part_number": 1, "etag": part.headers["ETag"]}]
    refused = complete(stack_client, stack_tenant, upload, parts=parts, sha256=wrong)
    assert_error(refused, 422, "upload_mismatch")
    assert {"field": "sha256", "declared": wrong, "stored": digest} \
        in refused.json()["error"]["details"]
    assert stack_client.get(f"/v1/uploads/{upload['id']}",
                            headers=stack_tenant.headers()).json()["status"] == "failed"

    upload = start(stack_client, stack_tenant, data, multipart=True, overwrite=True,
                   sha256=digest)
    part = send("PUT", upload["parts"][0]["url"], data=data)
    parts = [{"part_number": 1, "etag": part.headers["ETag"]}]
    changed = complete(stack_client, stack_tenant, upload, parts=parts, sha256=wrong)
    assert_error(changed, 422, "validation_error")  # a declaration is not changed later
    assert complete(stack_client, stack_tenant, upload, parts=parts,
                    sha256=digest).status_code == 200


def test_upload_whose_parts_vanished_from_storage_answers_4xx(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, bucket: str,
        send: Any) -> None:
    """As after a lifecycle rule or an operator aborted the multipart upload in storage."""
    data = b"0123456789"
    upload = start(stack_client, stack_tenant, data, multipart=True)
    send("PUT", upload["parts"][0]["url"], data=data)
    with stack_app.state.runtime.session_factory() as db:
        row = db.get(Upload, uuid.UUID(upload["id"]))
        stack_app.state.runtime.storage.abort_multipart(row.storage_key, row.multipart_id)
    shown = stack_client.get(f"/v1/uploads/{upload['id']}", headers=stack_tenant.headers())
    assert shown.status_code == 200, shown.text
    assert (shown.json()["parts"], shown.json()["parts_received"]) == ([], [])
    assert_error(complete(stack_client, stack_tenant, upload), 422, "upload_mismatch")
    assert stack_client.get(f"/v1/uploads/{upload['id']}",
                            headers=stack_tenant.headers()).json()["status"] == "failed"
    assert reserved(stack_app, stack_tenant) == (0, 0)


def test_complete_listing_a_part_twice_is_422_and_the_upload_stays_pending(
        stack_client: Any, stack_tenant: Tenant, bucket: str, send: Any) -> None:
    data = b"one part only"
    upload = start(stack_client, stack_tenant, data, multipart=True)
    etag = send("PUT", upload["parts"][0]["url"], data=data).headers["ETag"]
    twice = complete(stack_client, stack_tenant, upload,
                     parts=[{"part_number": 1, "etag": etag}] * 2)
    assert_error(twice, 422, "validation_error")
    assert "repeated: [1]" in str(twice.json()["error"]["details"])
    once = complete(stack_client, stack_tenant, upload, parts=[{"part_number": 1, "etag": etag}])
    assert once.status_code == 200, once.text
    assert download(stack_client, stack_tenant, send, once.json()["id"]) == data
