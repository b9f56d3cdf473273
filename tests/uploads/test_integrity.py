"""What a presigned upload's URLs can store: nothing once the upload is over, no part longer
than signed, and nothing publicly readable before complete has checked it — on every stack."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from cloudnexus.db.columns import utcnow
from cloudnexus.maintenance import run
from cloudnexus.storage.base import PENDING_STATE, READY_STATE, STATE_TAG, ObjectNotFound
from cloudnexus.uploads.models import Upload
from tests.conftest import Tenant
from tests.uploads.test_upload_lifecycle import (
    assert_error,
    complete,
    reserved,
    start,
    storage_key,
)

MiB = 1024 * 1024
DATA = b"bytes no upload accounts for"


def usage(client: Any, tenant: Tenant) -> dict[str, int]:
    return client.get("/v1/workspace", headers=tenant.headers()).json()[  # type: ignore[no-any-return]
        "usage"]


def assert_nothing_kept(app: Any, key: str) -> None:
    """After maintenance: no object under the key, whatever a URL sent there."""
    run(app.state.runtime, orphan_grace=timedelta(0))
    with pytest.raises(ObjectNotFound):
        app.state.runtime.storage.head(key)


def put_after_the_end(app: Any, send: Any, upload: dict[str, Any], key: str) -> None:
    """A PUT to the URL of an upload that is over: refused where the backend can withdraw a
    URL (local); on S3, which cannot, the bytes land pending and maintenance removes them."""
    response = send("PUT", upload["url"], data=DATA, headers=upload["headers"])
    if app.state.runtime.storage.name == "local":
        assert_error(response, 404, "not_found")
        assert "aborted, failed or expired" in response.json()["error"]["message"]
        with pytest.raises(ObjectNotFound):
            app.state.runtime.storage.head(key)
    else:
        assert response.status_code == 200, response.text
        assert tag_of(app, key) == PENDING_STATE
    assert_nothing_kept(app, key)


def tag_of(app: Any, key: str) -> str | None:
    storage = app.state.runtime.storage
    tags = storage.client.get_object_tagging(Bucket=storage.bucket, Key=key)["TagSet"]
    return next((tag["Value"] for tag in tags if tag["Key"] == STATE_TAG), None)


def test_put_url_is_refused_after_an_abort(stack_app: Any, stack_client: Any,
                                           stack_tenant: Tenant, bucket: str,
                                           send: Any) -> None:
    upload = start(stack_client, stack_tenant, DATA)
    key = storage_key(stack_app, upload)
    assert stack_client.delete(f"/v1/uploads/{upload['id']}",
                               headers=stack_tenant.headers()).status_code == 204
    put_after_the_end(stack_app, send, upload, key)
    assert usage(stack_client, stack_tenant) == {"bytes": 0, "files": 0, "derived_bytes": 0}
    assert reserved(stack_app, stack_tenant) == (0, 0)


def test_put_url_is_refused_after_its_upload_expired(stack_app: Any, stack_client: Any,
                                                     stack_tenant: Tenant, bucket: str,
                                                     send: Any) -> None:
    """The URL itself is still within its signature's lifetime; the upload is not."""
    upload = start(stack_client, stack_tenant, DATA)
    key = storage_key(stack_app, upload)
    with stack_app.state.runtime.session_factory() as db:
        db.execute(update(Upload).where(Upload.id == uuid.UUID(upload["id"]))
                   .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
    assert run(stack_app.state.runtime).expired_uploads == 1
    put_after_the_end(stack_app, send, upload, key)
    assert reserved(stack_app, stack_tenant) == (0, 0)


def test_a_failed_complete_ends_a_single_put_upload(stack_app: Any, stack_client: Any,
                                                    stack_tenant: Tenant, bucket: str,
                                                    send: Any) -> None:
    """A mismatch removes the object and fails the upload: its quota is given back and its
    URL stores nothing more (before, it stayed pending with its URL still open)."""
    upload = start(stack_client, stack_tenant, DATA)
    key = storage_key(stack_app, upload)
    # Bytes other than declared, as a store that checks no signature (moto) would keep them.
    stack_app.state.runtime.storage.put(key, io.BytesIO(DATA + b"!"),
                                        content_type="application/octet-stream")
    failed = complete(stack_client, stack_tenant, upload)
    assert_error(failed, 422, "upload_mismatch")
    assert {"field": "size", "declared": len(DATA), "stored": len(DATA) + 1} in \
        failed.json()["error"]["details"]
    shown = stack_client.get(f"/v1/uploads/{upload['id']}", headers=stack_tenant.headers())
    assert shown.json()["status"] == "failed" and shown.json()["url"] is None
    assert reserved(stack_app, stack_tenant) == (0, 0)
    put_after_the_end(stack_app, send, upload, key)
    assert_error(complete(stack_client, stack_tenant, upload), 422, "upload_mismatch")


def test_a_complete_before_the_bytes_keeps_the_upload_open(stack_app: Any, stack_client: Any,
                                                           stack_tenant: Tenant, bucket: str,
                                                           send: Any) -> None:
    upload = start(stack_client, stack_tenant, DATA)
    assert_error(complete(stack_client, stack_tenant, upload), 422, "upload_mismatch")
    assert send("PUT", upload["url"], data=DATA, headers=upload["headers"]).status_code == 200
    assert complete(stack_client, stack_tenant, upload).status_code == 200


def test_a_part_longer_than_signed_is_refused_or_caught_at_complete(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, bucket: str,
        send: Any) -> None:
    """Declared 1,024 bytes, sent 1 MiB: the part URL binds the part's length (S3 checks the
    signed Content-Length; the local backend refuses it before reading). moto checks no
    signature, so there the oversized part is caught at complete: the upload fails."""
    upload = start(stack_client, stack_tenant, b"x" * 1024, multipart=True)
    url = upload["parts"][0]["url"]
    response = send("PUT", url, data=b"y" * MiB)
    if stack_app.state.runtime.storage.name == "local":
        assert_error(response, 403, "forbidden")
        assert "Content-Length must be 1024" in response.json()["error"]["message"]
        shown = stack_client.get(f"/v1/uploads/{upload['id']}", headers=stack_tenant.headers())
        assert shown.json()["parts_received"] == []
        assert reserved(stack_app, stack_tenant) == (1024, 1)  # what was declared, no more
        assert send("PUT", url, data=b"x" * 1024).status_code == 200
        assert complete(stack_client, stack_tenant, upload).status_code == 200
        assert usage(stack_client, stack_tenant) == {"bytes": 1024, "files": 1, "derived_bytes": 0}
        return
    assert "content-length" in parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0]
    assert response.status_code == 200
    failed = complete(stack_client, stack_tenant, upload)
    assert_error(failed, 422, "upload_mismatch")
    assert {"field": "size", "declared": 1024, "stored": MiB} in failed.json()["error"]["details"]
    assert reserved(stack_app, stack_tenant) == (0, 0)
    assert usage(stack_client, stack_tenant) == {"bytes": 0, "files": 0, "derived_bytes": 0}
    assert_nothing_kept(stack_app, storage_key(stack_app, upload))


def test_every_part_url_is_signed_for_its_own_length(stack_app: Any, stack_client: Any,
                                                     stack_tenant: Tenant,
                                                     bucket: str, send: Any) -> None:
    """part_size for every part but the last, the rest for the last; their sum the size."""
    size = 2 * 16 * MiB + 5
    upload = stack_client.post("/v1/buckets/media/uploads", headers=stack_tenant.headers(),
                               json={"path": "big.bin", "size": size, "content_type": "video/mp4",
                                     "multipart": True}).json()
    assert upload["part_size"] == 16 * MiB and len(upload["parts"]) == 3
    if stack_app.state.runtime.storage.name != "local":
        return  # S3's URLs carry no length in their query: the signed header binds it
    lengths = [int(parse_qs(urlsplit(part["url"]).query)["content_length"][0])
               for part in upload["parts"]]
    assert lengths == [16 * MiB, 16 * MiB, 5]


def test_a_public_buckets_upload_is_public_only_once_complete(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, send: Any) -> None:
    """Until complete has checked the bytes, the public route (local) does not serve them and
    the object carries the pending tag the bucket policy excludes (S3). Locally, its PUT
    would complete it at once: turned off here, as on S3 before its notification arrives."""
    stack_app.state.object_arrived = None
    assert stack_client.post("/v1/buckets", json={"name": "avatars", "public": True},
                             headers=stack_tenant.headers()).status_code == 201
    created = stack_client.post("/v1/buckets/avatars/uploads", headers=stack_tenant.headers(),
                                json={"path": "me.png", "size": len(DATA),
                                      "content_type": "image/png"})
    upload = created.json()
    key = storage_key(stack_app, upload)
    assert key.startswith("uploads/")
    assert send("PUT", upload["url"], data=DATA, headers=upload["headers"]).status_code == 200
    public_url = stack_app.state.runtime.storage.public_url(key)
    local = stack_app.state.runtime.storage.name == "local"
    if local:
        assert_error(send("GET", public_url), 404, "not_found")
    else:
        assert tag_of(stack_app, key) == PENDING_STATE
    completed = complete(stack_client, stack_tenant, upload)
    assert completed.status_code == 200, completed.text
    assert completed.json()["public_url"] == public_url
    if local:
        served = send("GET", public_url)
        assert (served.status_code, served.content) == (200, DATA)
    else:
        assert tag_of(stack_app, key) == READY_STATE


def test_a_mismatched_public_upload_was_never_public(stack_app: Any, stack_client: Any,
                                                     stack_tenant: Tenant, send: Any) -> None:
    assert stack_client.post("/v1/buckets", json={"name": "avatars", "public": True},
                             headers=stack_tenant.headers()).status_code == 201
    upload = stack_client.post("/v1/buckets/avatars/uploads", headers=stack_tenant.headers(),
                               json={"path": "me.png", "size": len(DATA), "multipart": True,
                                     "content_type": "image/png",
                                     "sha256": hashlib.sha256(b"other").hexdigest()}).json()
    key = storage_key(stack_app, upload)
    assert send("PUT", upload["parts"][0]["url"], data=DATA).status_code == 200
    storage, seen = stack_app.state.runtime.storage, []
    real_head = storage.head

    def head_and_look(checked: str) -> Any:  # what a reader sees while complete checks
        info = real_head(checked)
        seen.append(storage.is_pending(checked) if storage.name == "local"
                    else tag_of(stack_app, checked) == PENDING_STATE)
        return info

    storage.head = head_and_look
    try:
        assert_error(complete(stack_client, stack_tenant, upload), 422, "upload_mismatch")
    finally:
        del storage.head
    assert seen and all(seen)  # assembled pending, checked, removed: never public
    with pytest.raises(ObjectNotFound):
        storage.head(key)
    assert reserved(stack_app, stack_tenant) == (0, 0)
