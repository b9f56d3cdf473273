"""The Python SDK against really running servers (embedded default, and PostgreSQL + S3)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudnexus_client import (
    ApiError,
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    QuotaExceeded,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    UploadMismatch,
    ValidationError,
)

from tests.clients.conftest import DIRECT_LIMIT, PART_SIZE, MiB, Server, admin, random_bytes


@pytest.mark.parametrize(("size", "way"), [
    (1000, "direct"), (3 * MiB, "put"), (PART_SIZE + 3 * MiB, "multipart")])
def test_upload_picks_the_way_by_size_and_reports_progress(
        cx: Client, bucket: str, tmp_path: Path, size: int, way: str) -> None:
    data = random_bytes(size)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    calls: list[tuple[int, int]] = []
    outcome = cx.files.upload_with_outcome(bucket, "dir/data.bin", source,
                                           progress=lambda done, total: calls.append((done, total)))
    assert outcome.way == way
    assert outcome.file.size == size
    assert outcome.file.sha256 == hashlib.sha256(data).hexdigest()
    assert calls[-1] == (size, size)
    assert all(total == size for _, total in calls)
    if way != "direct":  # streamed: progress moves as chunks go out, not only at the end
        assert len(calls) > 1
    target = tmp_path / "copy.bin"
    cx.files.download(outcome.file.id, target)
    assert target.read_bytes() == data


def test_upload_takes_bytes_and_file_objects(cx: Client, bucket: str) -> None:
    data = random_bytes(DIRECT_LIMIT * 2)
    from_bytes = cx.files.upload(bucket, "a.bin", data)
    from_object = cx.files.upload(bucket, "b.bin", io.BytesIO(data))
    assert from_bytes.sha256 == from_object.sha256 == hashlib.sha256(data).hexdigest()
    out = io.BytesIO()
    cx.files.download(from_object.id, out)
    assert out.getvalue() == data


def test_download_resumes_with_range(cx: Client, bucket: str, tmp_path: Path) -> None:
    data = random_bytes(300_000)
    file = cx.files.upload(bucket, "big.bin", data)
    target = tmp_path / "big.bin"
    (tmp_path / "big.bin.cnxpart").write_bytes(data[:100_000])
    outcome = cx.files.download_with_outcome(file.id, target)
    assert outcome.resumed
    assert outcome.received == len(data) - 100_000
    assert target.read_bytes() == data
    assert not (tmp_path / "big.bin.cnxpart").exists()


def test_listing_follows_cursors_with_filters(cx: Client, bucket: str) -> None:
    for index in range(5):
        cx.files.upload(bucket, f"2026/{index}.txt", b"x" * (index + 1), tags=["t"])
    cx.files.upload(bucket, "other.txt", b"y")
    by_size = list(cx.files.list(bucket, prefix="2026/", sort="size", order="desc", page_size=2))
    assert [file.path for file in by_size] == [f"2026/{index}.txt" for index in range(4, -1, -1)]
    assert len(list(cx.files.list(bucket, q="OTHER"))) == 1
    assert len(list(cx.files.list(bucket, tag="t", page_size=1))) == 5
    assert cx.files.find(bucket, "2026/3.txt") is not None
    assert cx.files.find(bucket, "2026/3") is None


def test_every_other_route(cx: Client, bucket: str) -> None:
    assert cx.health().status == "ok"
    assert cx.workspace().name == "acme"
    key = cx.keys.create("ci", ["files:read"])
    assert key.key and key.key.startswith("cnx_")
    assert key.id in [item.id for item in cx.keys.list()]
    cx.keys.revoke(key.id)
    with pytest.raises(Unauthorized):
        Client(cx.url, key=key.key, retries=0).workspace()
    assert cx.buckets.get(bucket).usage is not None
    assert cx.buckets.update(bucket, max_file_size=10_000).max_file_size == 10_000
    file = cx.files.upload(bucket, "a/one.txt", b"one", metadata={"k": 1})
    moved = cx.files.update(file.id, path="a/two.txt", if_match=file.etag)
    assert moved.path == "a/two.txt" and moved.metadata == {"k": 1}
    copied = cx.files.copy(file.id, "b/three.txt")
    assert copied.sha256 == file.sha256
    link = cx.links.create(file.id, expires_in=60, max_downloads=2)
    assert link.url and link.max_downloads == 2
    assert [item.id for item in cx.links.list(file.id)] == [link.id]
    cx.links.revoke(link.id)
    upload = cx.uploads.create(bucket, "aborted.bin", size=10, content_type="text/plain")
    assert cx.uploads.get(upload.id).status == "pending"
    cx.uploads.abort(upload.id)
    assert cx.files.delete_many(bucket, ids=[copied.id]) == 1
    assert cx.files.delete_many(bucket, prefix="a/") == 1
    cx.files.upload(bucket, "last.txt", b"z")
    with pytest.raises(Conflict):
        cx.buckets.delete(bucket)
    cx.buckets.delete(bucket, force=True)
    with pytest.raises(NotFound):
        cx.buckets.get(bucket)


def test_a_token_minted_by_the_sdk_acts_only_inside_its_prefix(
        cx: Client, bucket: str, tmp_path: Path) -> None:
    """An admin adds a signing key and mints a token; a second client holding only the
    token uploads (each way) and lists inside its folder, and is refused outside it."""
    signing_key = cx.signing_keys.create("backend")
    assert signing_key.algorithm == "HS256" and signing_key.secret
    listed = [key for key in cx.signing_keys.list() if key.id == signing_key.id]
    assert listed and listed[0].secret is None  # shown once only
    other = f"o-{uuid.uuid4().hex[:10]}"
    cx.buckets.create(other)
    minted = cx.tokens.create("user-42", expires_in=600, buckets=[bucket], prefix="users/42/",
                              ops=["list", "read", "write"])
    assert minted.token.count(".") == 2 and minted.expires_at is not None
    big = random_bytes(3 * MiB)
    with Client(cx.url, token=minted.token, retries=0) as end_user:
        small = end_user.files.upload(bucket, "users/42/notes.txt", b"mine")
        assert small.created_by == "user-42"
        outcome = end_user.files.upload_with_outcome(bucket, "users/42/big.bin", big)
        assert outcome.way == "put" and outcome.file.sha256 == hashlib.sha256(big).hexdigest()
        paths = [file.path for file in end_user.files.list(bucket)]
        assert paths == ["users/42/big.bin", "users/42/notes.txt"]
        end_user.files.download(small.id, tmp_path / "notes.txt")
        assert (tmp_path / "notes.txt").read_bytes() == b"mine"
        with pytest.raises(Forbidden):
            end_user.files.upload(bucket, "users/43/theirs.txt", b"not mine")
        with pytest.raises(Forbidden):  # outside the folder: listing is refused
            list(end_user.files.list(bucket, prefix="users/"))
        with pytest.raises(NotFound):  # a bucket outside the grant does not exist for it
            end_user.files.upload(other, "users/42/x.txt", b"x")
        with pytest.raises(Forbidden):  # nor may a token mint tokens or make buckets
            end_user.tokens.create("x", expires_in=60, buckets=[bucket], prefix="",
                                   ops=["read"])
        with pytest.raises(Forbidden):  # no "delete" in its ops
            end_user.files.delete(small.id)
    mine = [file.path for file in cx.files.list(bucket, created_by="user-42")]
    assert mine == ["users/42/big.bin", "users/42/notes.txt"]
    cx.signing_keys.delete(signing_key.id)
    assert signing_key.id not in [key.id for key in cx.signing_keys.list()]
    with pytest.raises(Unauthorized):  # every token it signed stops working at once
        Client(cx.url, token=minted.token, retries=0).files.get(small.id)


def test_errors_are_typed_from_the_contract(cx: Client, bucket: str) -> None:
    with pytest.raises(NotFound) as missing:
        cx.files.get(str(uuid.uuid4()))
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert missing.value.request_id and missing.value.message
    with pytest.raises(Conflict):
        cx.buckets.create(bucket)
    with pytest.raises(ValidationError) as invalid:
        cx.buckets.create("No_Such Name")
    assert invalid.value.details
    with pytest.raises(BadRequest):
        cx.files.upload(bucket, "../escape.txt", b"x")
    file = cx.files.upload(bucket, "x.txt", b"x")
    with pytest.raises(PreconditionFailed):
        cx.files.update(file.id, path="y.txt", if_match='"stale"')
    images = f"i-{uuid.uuid4().hex[:10]}"
    cx.buckets.create(images, allowed_content_types=["image/*"], max_file_size=100)
    with pytest.raises(UnsupportedMediaType):
        cx.files.upload(images, "notes.txt", b"text")
    with pytest.raises(PayloadTooLarge):
        cx.files.upload(images, "big.png", b"x" * (DIRECT_LIMIT + 10))
    with pytest.raises(Unauthorized):
        Client(cx.url, key="cnx_nope_nope", retries=0).buckets.list()
    assert issubclass(NotFound, ApiError)


def test_quota_and_mismatch_errors_are_typed(server: Server, cx: Client, bucket: str) -> None:
    data = b"0123456789"
    declared = hashlib.sha256(b"other bytes").hexdigest()
    upload = cx.uploads.create(bucket, "m.bin", size=len(data), content_type="text/plain",
                               sha256=declared, multipart=True)
    sent = httpx.put(upload.parts[0].url, content=data)
    assert sent.status_code == 200, sent.text
    with pytest.raises(UploadMismatch) as mismatch:
        cx.uploads.complete(upload.id, [(1, sent.headers["ETag"])])
    assert (mismatch.value.status, mismatch.value.code) == (422, "upload_mismatch")
    assert {"field": "sha256", "declared": declared,
            "stored": hashlib.sha256(data).hexdigest()} in mismatch.value.details
    workspace = f"tight-{uuid.uuid4().hex[:8]}"
    admin(server.environment, "workspace", "create", workspace)
    admin(server.environment, "workspace", "set-quota", workspace, "--max-files", "1")
    key = admin(server.environment, "key", "create", "--workspace", workspace, "--scope", "admin")
    with Client(server.url, key=key) as tight:
        tight.buckets.create("only")
        tight.files.upload("only", "one.txt", b"1")
        with pytest.raises(QuotaExceeded) as over:
            tight.files.upload("only", "two.txt", b"2")
    assert (over.value.status, over.value.code) == (403, "quota_exceeded")
    assert isinstance(over.value, Forbidden)


def test_a_503_past_the_retries_is_service_unavailable(s3_server: Server,
                                                       client_home: Path) -> None:
    proxy = s3_server.proxies["database"]
    cx = Client(s3_server.url, key=s3_server.key, retries=1)
    proxy.stop()
    try:
        with pytest.raises(ServiceUnavailable) as unavailable:
            cx.buckets.list()
    finally:
        proxy.start()
    assert (unavailable.value.status, unavailable.value.code) == (503, "service_unavailable")
    assert unavailable.value.request_id
    assert cx.buckets.list() is not None  # back
    cx.close()


def test_a_503_is_retried_until_the_database_is_back(s3_server: Server,
                                                     client_home: Path) -> None:
    """The server's PostgreSQL goes away (its proxy cut), comes back during the backoff."""
    retries: list[Any] = []
    cx = Client(s3_server.url, key=s3_server.key,
                on_retry=lambda attempt, delay, cause: retries.append(cause))
    proxy = s3_server.proxies["database"]
    name = f"r-{uuid.uuid4().hex[:10]}"
    proxy.stop()
    restore = threading.Timer(1.0, proxy.start)
    restore.start()
    try:
        bucket = cx.buckets.create(name)
    finally:
        restore.join()
        if not proxy.running:
            proxy.start()
    assert bucket.name == name
    assert any(getattr(cause, "status_code", None) == 503 for cause in retries)
    assert [b.name for b in cx.buckets.list()].count(name) == 1  # the retries made one
    cx.close()


def test_storage_cut_during_an_upload_is_retried(s3_server: Server, client_home: Path,
                                                 tmp_path: Path) -> None:
    """moto goes away while the parts go out; each part is retried until it is back."""
    retries: list[Any] = []
    cx = Client(s3_server.url, key=s3_server.key,
                on_retry=lambda attempt, delay, cause: retries.append(cause))
    name = f"s-{uuid.uuid4().hex[:10]}"
    cx.buckets.create(name)
    data = random_bytes(PART_SIZE + MiB)
    proxy = s3_server.proxies["storage"]
    cut = False

    def progress(done: int, total: int) -> None:
        nonlocal cut
        if not cut and done > MiB:
            cut = True
            proxy.stop()
            threading.Timer(1.0, proxy.start).start()

    try:
        file = cx.files.upload(name, "cut.bin", data, progress=progress)
    finally:
        if not proxy.running:
            proxy.start()
    assert cut and retries
    assert file.sha256 == hashlib.sha256(data).hexdigest()
    cx.close()


def test_async_client_has_the_same_methods(server: Server, client_home: Path,
                                           tmp_path: Path) -> None:
    async def session() -> None:
        async with AsyncClient(server.url, key=server.key) as cx:
            name = f"a-{uuid.uuid4().hex[:10]}"
            await cx.buckets.create(name)
            data = random_bytes(DIRECT_LIMIT + 5)
            file = await cx.files.upload(name, "x/async.bin", data)
            await cx.files.upload(name, "x/small.txt", b"small")
            paths = [f.path async for f in cx.files.list(name, prefix="x/", page_size=1)]
            assert paths == ["x/async.bin", "x/small.txt"]
            assert (await cx.files.get(file.id)).sha256 == hashlib.sha256(data).hexdigest()
            await cx.files.download(file.id, tmp_path / "async.bin")
            assert (tmp_path / "async.bin").read_bytes() == data
            with pytest.raises(NotFound):
                await cx.files.get(str(uuid.uuid4()))
            assert (await cx.workspace()).name == "acme"
            signing_key = await cx.signing_keys.create("async")
            minted = await cx.tokens.create("async-user", expires_in=60, buckets=[name],
                                            prefix="x/", ops=["list"])
            async with AsyncClient(server.url, token=minted.token) as end_user:
                assert [f.path async for f in end_user.files.list(name)] == paths
            assert signing_key.id in [key.id for key in await cx.signing_keys.list()]
            await cx.signing_keys.delete(signing_key.id)
            await cx.buckets.delete(name, force=True)

    asyncio.run(session())
