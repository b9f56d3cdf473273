"""The local backend's URLs: signed, expiring, bound to method, key, headers, length, checksum."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from cloudnexus.config import Settings
from cloudnexus.limits import AT_ONCE_MAX_BYTES
from cloudnexus.storage import create_storage
from cloudnexus.storage.base import ObjectNotFound, PresignedRequest
from cloudnexus.storage.local import LocalStorage
from cloudnexus.storage.signing import Grant, Signer, load_or_create_key
from tests.storage.conftest import new_key

DATA = b"signed bytes " * 1000


@pytest.fixture
def local(make_settings: Callable[..., Settings]) -> LocalStorage:
    storage = create_storage(make_settings(log_level="WARNING"))
    assert isinstance(storage, LocalStorage)
    return storage


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from cloudnexus.app import create_app

    with TestClient(create_app(make_settings(log_level="WARNING"))) as test_client:
        yield test_client


def presign(local: LocalStorage, key: str, *, data: bytes = DATA, content_type: str = "text/plain",
            with_sha256: bool = True) -> PresignedRequest:
    sha256 = hashlib.sha256(data).hexdigest() if with_sha256 else None
    return local.presign_put(key, content_type=content_type, size=len(data), sha256=sha256,
                             expires_in=60)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


def assert_refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"] and error["request_id"] == response.headers["X-Request-Id"]


def assert_nothing_stored(local: LocalStorage, key: str) -> None:
    with pytest.raises(ObjectNotFound):
        local.head(key)
    folder = local.path_of(key).parent
    left = [path.name for path in folder.iterdir()] if folder.exists() else []
    # no temp file left behind; only the marker of the URL, which may still be used
    assert left in ([], [f".{key.rsplit('/', 1)[-1]}.awaiting"])


def test_presigned_put_round_trip(local: LocalStorage, client: Any) -> None:
    key = new_key()
    request = presign(local, key)
    response = client.put(request.url, headers=request.headers, content=DATA)
    assert response.status_code == 200 and response.content == b""
    assert local.head(key).sha256 == hashlib.sha256(DATA).hexdigest()
    assert response.headers["ETag"] == local.head(key).etag


def test_put_never_replaces_other_bytes(local: LocalStorage, client: Any) -> None:
    key, other = new_key(), DATA.replace(b"s", b"S")  # as long: only the bytes differ
    request = presign(local, key, with_sha256=False)
    assert client.put(request.url, headers=request.headers, content=DATA).status_code == 200
    again = client.put(request.url, headers=request.headers, content=other)
    assert_refused(again, 412, "precondition_failed")
    assert local.head(key).sha256 == hashlib.sha256(DATA).hexdigest()
    assert [p.name for p in local.path_of(key).parent.iterdir() if p.suffix == ".tmp"] == []


def test_put_retried_with_the_same_bytes_is_412_as_on_s3(local: LocalStorage,
                                                          client: Any) -> None:
    """A client whose first answer was lost sends the PUT again: the object stays as stored,
    and the answer is S3's to a create-only PUT, so both backends behave alike."""
    key = new_key()
    request = presign(local, key)
    first = client.put(request.url, headers=request.headers, content=DATA)
    retry = client.put(request.url, headers=request.headers, content=DATA)
    assert (first.status_code, retry.status_code) == (200, 412)
    assert first.headers["ETag"] == local.head(key).etag


@pytest.mark.parametrize("headers", [{"Content-Type": "text/html"},
                                     {"Content-Type": "text/plain; charset=utf-8"}, {}])
def test_put_with_another_content_type(local: LocalStorage, client: Any,
                                       headers: dict[str, str]) -> None:
    key = new_key()
    response = client.put(presign(local, key).url, headers=headers, content=DATA)
    assert_refused(response, 403, "forbidden")
    assert_nothing_stored(local, key)
    sent = headers.get("Content-Type")
    got = f"got {sent!r}" if sent else "none was sent"
    assert response.json()["error"]["message"] == (
        f"Content-Type must be 'text/plain', as signed ({got}): send the upload's headers exactly")


@pytest.mark.parametrize("body", [DATA + b"!", DATA[:-1], b""], ids=["longer", "shorter", "empty"])
def test_put_with_another_content_length(local: LocalStorage, client: Any, body: bytes) -> None:
    key = new_key()
    response = client.put(presign(local, key).url, headers={"Content-Type": "text/plain"},
                          content=body)
    assert_refused(response, 403, "forbidden")
    assert_nothing_stored(local, key)


@pytest.mark.parametrize("body", [DATA + b"!", DATA[:-1]], ids=["longer", "shorter"])
def test_put_whose_body_differs_from_its_content_length(local: LocalStorage, client: Any,
                                                        body: bytes) -> None:
    key = new_key()
    request = presign(local, key)  # the signed Content-Length header, then a different body
    response = client.put(request.url, headers=request.headers, content=body)
    assert_refused(response, 400, "bad_request")
    assert_nothing_stored(local, key)


def test_put_with_another_checksum(local: LocalStorage, client: Any) -> None:
    key, other = new_key(), DATA.replace(b"s", b"S")
    request = presign(local, key, data=other)
    response = client.put(request.url, headers=request.headers, content=DATA)
    assert_refused(response, 400, "bad_request")
    assert_nothing_stored(local, key)


@pytest.mark.parametrize("change", [
    {"signature": "0" * 64}, {"signature": ""}, {"content_length": "1"},
    {"content_type": "text/html"}, {"sha256": "0" * 64}, {"expires": str(2**40)},
], ids=["signature", "no-signature", "length", "type", "sha256", "expires"])
def test_put_with_a_tampered_url(local: LocalStorage, client: Any, change: dict[str, str]) -> None:
    key = new_key()
    request = presign(local, key)
    response = client.put(with_query(request.url, **change), headers=request.headers, content=DATA)
    assert_refused(response, 403, "forbidden")
    assert_nothing_stored(local, key)


def test_put_with_an_expired_url(local: LocalStorage, client: Any) -> None:
    key = new_key()
    grant = Grant("PUT", key, int(time.time()) - 1, content_type="text/plain",
                  content_length=len(DATA))
    response = client.put(local.signer.url(local.base_url, grant),
                          headers={"Content-Type": "text/plain"}, content=DATA)
    assert_refused(response, 403, "forbidden")
    assert "expired" in response.json()["error"]["message"]
    assert_nothing_stored(local, key)


def test_url_for_one_key_used_for_another(local: LocalStorage, client: Any) -> None:
    key, other = new_key(), new_key()
    request = presign(local, key)
    response = client.put(request.url.replace(key, other), headers=request.headers, content=DATA)
    assert_refused(response, 403, "forbidden")
    assert_nothing_stored(local, other)
    local.put(key, io.BytesIO(DATA), content_type="text/plain")
    local.put(other, io.BytesIO(b"secret"), content_type="text/plain")
    response = client.get(local.presign_get(key, expires_in=60).replace(key, other))
    assert_refused(response, 403, "forbidden")


def test_urls_are_bound_to_their_method(local: LocalStorage, client: Any) -> None:
    key = new_key()
    local.put(key, io.BytesIO(DATA), content_type="text/plain")
    response = client.put(local.presign_get(key, expires_in=60),
                          headers={"Content-Type": "text/plain"}, content=b"overwrite")
    assert_refused(response, 403, "forbidden")
    assert client.get(presign(local, key).url).status_code == 403
    with local.open(key) as body:
        assert body.read() == DATA


def test_get_refuses_unsigned_tampered_and_expired_urls(local: LocalStorage, client: Any) -> None:
    key = new_key()
    local.put(key, io.BytesIO(DATA), content_type="text/plain")
    url = local.presign_get(key, expires_in=60, download_name="a.txt")
    assert client.get(url).status_code == 200
    assert_refused(client.get(url.split("?")[0]), 403, "forbidden")
    assert_refused(client.get(with_query(url, disposition="inline")), 403, "forbidden")
    expired = Grant("GET", key, int(time.time()) - 1)
    assert_refused(client.get(local.signer.url(local.base_url, expired)), 403, "forbidden")


def test_get_of_a_missing_object(local: LocalStorage, client: Any) -> None:
    assert_refused(client.get(local.presign_get(new_key(), expires_in=60)), 404, "not_found")
    assert_refused(client.get(local.public_url(new_key("uploads"))), 404, "not_found")


@pytest.mark.parametrize("size", [0, 1024, AT_ONCE_MAX_BYTES, AT_ONCE_MAX_BYTES + 1,
                                  3 * 1024 * 1024 + 5])
def test_get_answers_the_same_headers_whatever_the_size(local: LocalStorage, client: Any,
                                                         size: int) -> None:
    """Small objects are read at once, larger ones streamed: both answer alike, Range too."""
    key, data = new_key(), os.urandom(size)
    info = local.put(key, io.BytesIO(data), content_type="text/csv")
    url = local.presign_get(key, expires_in=60, download_name="report.csv")
    got = client.get(url)
    assert (got.status_code, got.content) == (200, data)
    assert got.headers["Content-Type"].startswith("text/csv")
    assert got.headers["Content-Length"] == str(size)
    assert got.headers["ETag"] == info.etag and got.headers["Accept-Ranges"] == "bytes"
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["Last-Modified"].endswith(" GMT")
    if size:
        part = client.get(url, headers={"Range": f"bytes={size // 2}-"})
        assert (part.status_code, part.content) == (206, data[size // 2:])


def test_a_small_get_takes_no_trip_to_a_worker_thread(local: LocalStorage, client: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Under concurrency each trip to a worker thread costs more than serving a small object
    (FastAPI runs every plain `def` dependency in one)."""
    import anyio.to_thread

    key = new_key()
    local.put(key, io.BytesIO(DATA), content_type="text/plain")
    url = local.presign_get(key, expires_in=60)
    assert client.get(url).status_code == 200
    trips: list[object] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(work: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(work)
        return await run_sync(work, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    got = client.get(url)
    assert (got.status_code, got.content) == (200, DATA)
    assert trips == []


def test_public_route_serves_only_uploads(local: LocalStorage, client: Any) -> None:
    key = new_key()
    local.put(key, io.BytesIO(DATA), content_type="text/plain")
    public_path = local.public_url(new_key("uploads")).rsplit("/uploads/", 1)[0]
    assert_refused(client.get(f"{public_path}/{key}"), 404, "not_found")
    assert_refused(client.get(f"{public_path}/uploads/../{key}"), 404, "not_found")


def test_public_route_serves_no_pending_object(local: LocalStorage, client: Any) -> None:
    """The bytes of a presigned upload into a public bucket are not public before complete
    has checked them (and a mismatch is removed without ever having been served)."""
    key = new_key("uploads")
    request = presign(local, key)
    assert client.put(request.url, headers=request.headers, content=DATA).status_code == 200
    public = local.public_url(key).removeprefix(local.base_url)
    assert_refused(client.get(public), 404, "not_found")
    local.mark_ready(key)
    served = client.get(public)
    assert (served.status_code, served.content) == (200, DATA)


def test_part_urls(local: LocalStorage, client: Any) -> None:
    key = new_key()
    upload_id = local.create_multipart(key, content_type="text/plain")
    url = local.presign_part(key, upload_id, 1, size=1, expires_in=60)
    assert_refused(client.put(with_query(url, part_number="2"), content=b"x"), 403, "forbidden")
    assert_refused(client.put(with_query(url, content_length="2"), content=b"xx"), 403,
                   "forbidden")
    assert_refused(client.put(url.replace(key, new_key()), content=b"x"), 403, "forbidden")
    local.abort_multipart(key, upload_id)
    assert_refused(client.put(url, content=b"x"), 404, "not_found")


def test_a_part_is_exactly_as_long_as_its_url_says(local: LocalStorage, client: Any) -> None:
    """A part URL binds the part's length: a longer (or shorter) body is refused before it is
    read, and one whose Content-Length lies is cut off as soon as it passes the signed one."""
    key = new_key()
    upload_id = local.create_multipart(key, content_type="text/plain")
    url = local.presign_part(key, upload_id, 1, size=len(DATA), expires_in=60)
    assert_refused(client.put(url, content=DATA + b"more"), 403, "forbidden")
    assert_refused(client.put(url, content=DATA[:-1]), 403, "forbidden")

    def longer_than_declared() -> Iterator[bytes]:
        yield DATA
        yield b"and then some more"

    lying = client.put(url, content=longer_than_declared(),
                       headers={"Content-Length": str(len(DATA))})
    assert lying.status_code in (400, 403), lying.text
    assert local.list_parts(key, upload_id) == []
    assert client.put(url, content=DATA).status_code == 200
    assert [part.size for part in local.list_parts(key, upload_id)] == [len(DATA)]


@pytest.mark.parametrize("key", ["../escape", "/absolute", "a/../../b", "a//b", "a\0b", "",
                                 "a/./b", "a\\b", "a/.hidden", "trailing/"])
def test_unsafe_keys_are_refused(local: LocalStorage, key: str) -> None:
    with pytest.raises(ValueError):
        local.put(key, io.BytesIO(b"x"), content_type="text/plain")
    with pytest.raises(ValueError):
        local.presign_get(key, expires_in=60)


def test_signing_key_is_private_and_made_once(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    with ThreadPoolExecutor(8) as pool:  # concurrent first use: every caller gets the same key
        keys = set(pool.map(lambda _: load_or_create_key(path), range(32)))
    assert len(keys) == 1 and len(keys.pop()) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["signing.key"]  # no temp file left


def test_instances_on_one_data_dir_share_the_key(local: LocalStorage) -> None:
    grant = Grant("GET", "private/a/b/c", 1)
    again = LocalStorage(local.key_path.parent, local.base_url)
    assert again.signer.signature(grant) == local.signer.signature(grant)
    other = LocalStorage(local.key_path.parent / "elsewhere", local.base_url)
    assert other.signer.signature(grant) != local.signer.signature(grant)


def test_check_creates_the_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "fresh", "http://testserver")
    storage.check()
    assert storage.root.is_dir() and list(storage.root.iterdir()) == []
    assert os.access(storage.root, os.W_OK)


def test_a_url_signed_by_an_earlier_release_still_verifies() -> None:
    """The signed message is a format: URLs already handed out (up to 7 days) must verify
    after an upgrade. This grant's URL and signature were made by the release before
    grants stopped going through dataclasses.asdict."""
    grant = Grant(method="PUT", key="private/w/b/f", expires=1_800_000_000,
                  content_type="text/plain", content_length=5, sha256="ab" * 32)
    signature = "266ba32ef18a6baf9ac6556a5ce9ec8ce1e36d4210cef4da70047dce72d570cf"
    signer = Signer(b"k" * 32)
    assert signer.url("http://x", grant) == (
        "http://x/storage/private/w/b/f?expires=1800000000&content_type=text%2Fplain"
        f"&content_length=5&sha256={'ab' * 32}&signature={signature}")
    signer.verify(grant, signature, now=1_700_000_000)


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_a_malformed_query_is_422_in_the_contracts_shape(local: LocalStorage, client: Any,
                                                         method: str) -> None:
    """The routes read their own query (FastAPI's solving cost more than a small object);
    a value of the wrong type is refused as FastAPI refuses it, naming the parameter."""
    key = new_key()
    local.put(key, io.BytesIO(DATA), content_type="text/plain")
    url = with_query(local.presign_get(key, expires_in=60), expires="soon")
    response = client.request(method, url, content=b"x")
    assert_refused(response, 422, "validation_error")
    details = response.json()["error"]["details"]
    assert [detail["loc"] for detail in details] == [["query", "expires"]]
