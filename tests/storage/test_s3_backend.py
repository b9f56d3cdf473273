"""S3 only: what its URLs sign (moto checks no signature), its client, and the large-copy path."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.exceptions import EndpointConnectionError

from cloudnexus.config import load_settings
from cloudnexus.storage import create_storage
from cloudnexus.storage.base import PENDING_STATE, STATE_TAG, UploadedPart
from cloudnexus.storage.disposition import content_disposition
from cloudnexus.storage.s3 import ASSEMBLY_READ_TIMEOUT, S3Storage
from tests.conftest import TEST_BUCKET, free_port
from tests.storage.conftest import new_key

PENDING_TAGGING = f"{STATE_TAG}={PENDING_STATE}"


@pytest.fixture
def s3(moto_endpoint: str, tmp_path: Path) -> S3Storage:
    storage = create_storage(load_settings(s3_bucket=TEST_BUCKET, s3_endpoint_url=moto_endpoint,
                                           data_dir=tmp_path))
    assert isinstance(storage, S3Storage)
    return storage


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_presigned_put_signs_type_length_and_checksum(s3: S3Storage) -> None:
    digest = hashlib.sha256(b"data").hexdigest()
    request = s3.presign_put(new_key(), content_type="image/png", size=4, sha256=digest,
                             expires_in=123)
    query = query_of(request.url)
    signed = set(query["X-Amz-SignedHeaders"].split(";"))
    assert {"content-type", "content-length", "x-amz-checksum-sha256", "host"} <= signed
    assert {name.lower() for name in request.headers} <= signed  # every header sent is signed
    assert query["X-Amz-Expires"] == "123"
    assert request.headers["x-amz-checksum-sha256"] == base64.b64encode(
        hashlib.sha256(b"data").digest()).decode()
    assert request.headers["Content-Type"] == "image/png"
    assert request.headers["Content-Length"] == "4"


def test_presigned_put_without_checksum(s3: S3Storage) -> None:
    request = s3.presign_put(new_key(), content_type="text/plain", size=10, sha256=None,
                             expires_in=900)
    query = query_of(request.url)
    assert set(query["X-Amz-SignedHeaders"].split(";")) == {
        "content-length", "content-type", "host", "if-none-match", "x-amz-tagging"}
    assert query["X-Amz-Expires"] == "900"
    assert set(request.headers) == {"Content-Type", "Content-Length", "If-None-Match",
                                    "x-amz-tagging"}


def test_presigned_put_is_signed_as_a_create_only_write(s3: S3Storage) -> None:
    """If-None-Match: * is signed, so the client must send it, and S3 refuses (412) a PUT once
    the object exists: the URL cannot replace a completed file's bytes."""
    key = new_key()
    request = s3.presign_put(key, content_type="text/plain", size=3, sha256=None, expires_in=60)
    assert request.headers["If-None-Match"] == "*"
    assert "if-none-match" in query_of(request.url)["X-Amz-SignedHeaders"].split(";")
    assert requests.put(request.url, data=b"one", headers=request.headers,
                        timeout=30).status_code == 200
    again = requests.put(request.url, data=b"two", headers=request.headers, timeout=30)
    assert again.status_code == 412 and b"PreconditionFailed" in again.content
    assert s3.open(key).read() == b"one"


def test_presigned_put_refuses_a_malformed_checksum(s3: S3Storage) -> None:
    with pytest.raises(ValueError):
        s3.presign_put(new_key(), content_type="text/plain", size=1, sha256="abc", expires_in=60)


def test_presigned_get_signs_the_disposition(s3: S3Storage) -> None:
    name = "rapport d'été.pdf"
    query = query_of(s3.presign_get(new_key(), expires_in=77, download_name=name))
    assert query["response-content-disposition"] == content_disposition(name)
    assert query["X-Amz-Expires"] == "77"
    assert "response-content-disposition" not in query_of(s3.presign_get(new_key(), expires_in=5))


def test_part_url_is_path_style_and_names_the_upload(s3: S3Storage, moto_endpoint: str) -> None:
    key = new_key()
    upload_id = s3.create_multipart(key, content_type="text/plain")
    url = s3.presign_part(key, upload_id, 7, size=5 * 1024 * 1024, expires_in=60)
    assert url.startswith(f"{moto_endpoint}/{TEST_BUCKET}/{key}?")
    assert (query_of(url)["uploadId"], query_of(url)["partNumber"]) == (upload_id, "7")
    # S3 refuses a part of another length: the signature binds it
    assert set(query_of(url)["X-Amz-SignedHeaders"].split(";")) == {"content-length", "host"}
    s3.abort_multipart(key, upload_id)


def test_public_urls(s3: S3Storage, moto_endpoint: str) -> None:
    assert s3.public_url("uploads/a b/ü") == f"{moto_endpoint}/{TEST_BUCKET}/uploads/a%20b/%C3%BC"
    aws = S3Storage.from_settings(load_settings(s3_bucket="files", aws_region="eu-west-1"))
    assert aws.public_url("uploads/x/y") == "https://files.s3.eu-west-1.amazonaws.com/uploads/x/y"
    dotted = S3Storage.from_settings(load_settings(s3_bucket="a.b", aws_region="eu-west-1"))
    assert dotted.public_url("uploads/x") == "https://s3.eu-west-1.amazonaws.com/a.b/uploads/x"


def test_public_url_serves_under_a_public_read_policy(s3: S3Storage, moto_endpoint: str) -> None:
    bucket = f"public-{uuid.uuid4().hex[:12]}"
    s3.client.create_bucket(Bucket=bucket)
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/uploads/*"}]}
    s3.client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    public = S3Storage(s3.session, s3.client, bucket, region="us-east-1", endpoint=moto_endpoint)
    key = new_key("uploads")
    public.put(key, io.BytesIO(b"hello"), content_type="text/plain")
    response = requests.get(public.public_url(key), timeout=10)
    assert (response.status_code, response.content) == (200, b"hello")


def test_client_configuration(s3: S3Storage) -> None:
    config = s3.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (3, 20)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}  # 1 try + 2 retries
    assert config.s3 == {"addressing_style": "path", "payload_signing_enabled": False}
    assert config.signature_version == "s3v4"


def test_the_assembly_of_parts_waits_longer_than_other_calls(s3: S3Storage) -> None:
    """CompleteMultipartUpload may be silent for as long as the store assembles the object:
    it is sent by a client like the others but for its read timeout, so a large object is
    waited for rather than retried on top of an assembly still running."""
    assembler = s3.assembler.meta.config
    assert assembler.read_timeout == ASSEMBLY_READ_TIMEOUT > s3.client.meta.config.read_timeout
    assert (assembler.connect_timeout, assembler.retries, assembler.s3) == (
        3, s3.client.meta.config.retries, s3.client.meta.config.s3)
    sent: list[str] = []
    s3.assembler.meta.events.register("before-send.s3.CompleteMultipartUpload",
                                      lambda request, **_: sent.append(request.url))
    key = new_key()
    upload_id = s3.create_multipart(key, content_type="application/octet-stream")
    etag = s3.client.upload_part(Bucket=TEST_BUCKET, Key=key, UploadId=upload_id, PartNumber=1,
                                 Body=b"only part")["ETag"]
    s3.complete_multipart(key, upload_id, [UploadedPart(1, etag, 9)])
    assert len(sent) == 1 and s3.head(key).size == 9


def test_a_put_is_not_hashed_again_to_sign_it_but_carries_its_signed_checksum(
        s3: S3Storage) -> None:
    """The body's SHA-256 goes in a signed header the store checks; the signature does not
    cover the body again (botocore would hash it once more on a plain-HTTP endpoint)."""
    import hashlib
    import io

    sent: list[Any] = []
    s3.client.meta.events.register("before-send.s3.PutObject",
                                   lambda request, **_: sent.append(request))
    body = b"x" * 1000
    s3.put("signed/x", io.BytesIO(body), content_type="text/plain",
           sha256=hashlib.sha256(body).hexdigest())
    headers = sent[0].headers
    assert headers["x-amz-content-sha256"] == b"UNSIGNED-PAYLOAD"
    assert b"x-amz-checksum-sha256" in headers["Authorization"].split(b"SignedHeaders=")[1]


def test_unreachable_endpoint_fails_fast_and_unmapped(tmp_path: Path) -> None:
    storage = create_storage(load_settings(s3_bucket=TEST_BUCKET, data_dir=tmp_path,
                                           s3_endpoint_url=f"http://127.0.0.1:{free_port()}"))
    started = time.monotonic()
    with pytest.raises(EndpointConnectionError):  # errors.py renders it as a 503
        storage.check()
    assert time.monotonic() - started < 10


def test_large_put_is_streamed_in_parts(s3: S3Storage) -> None:
    key, data = new_key(), bytes(range(256)) * (36 * 1024 + 1)  # over the 8 MiB part size
    info = s3.put(key, io.BytesIO(data), content_type="application/octet-stream")
    assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    head = s3.head(key)
    assert head.size == len(data) and head.etag and head.etag.endswith('-2"')
    assert head.sha256 is None  # S3 keeps a composite checksum of the parts, not the object's
    with s3.open(key) as body:
        assert body.read() == data


def test_copy_over_the_copy_object_limit_uses_a_managed_copy(
        s3: S3Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    import cloudnexus.storage.s3 as s3_module

    monkeypatch.setattr(s3_module, "MAX_COPY_BYTES", 10)
    source, dest, data = new_key(), new_key(), b"copied in parts" * 100
    s3.put(source, io.BytesIO(data), content_type="text/markdown")
    s3.copy(source, dest)
    head = s3.head(dest)
    assert (head.size, head.content_type) == (len(data), "text/markdown")
    with s3.open(dest) as body:
        assert body.read() == data


@pytest.fixture(scope="module")
def moto_over_https() -> Any:
    """moto's S3 app behind TLS (a throwaway certificate): the scheme AWS is reached by."""
    import threading

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app),
                         threaded=True, ssl_context="adhoc")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_a_body_still_being_written_goes_to_aws_with_a_trailing_checksum(
        moto_over_https: str) -> None:
    """A forwarded part's PUT (its length known, its bytes still arriving) as it goes to AWS:
    botocore's default checksum there (not asked of S3-compatible endpoints) is a CRC32 in a
    trailer of an aws-chunked body, which the store checks; the object is the whole part."""
    import tempfile
    import threading

    import boto3
    from botocore.config import Config

    from cloudnexus.files.forwarding import SpoolPipe

    # As from_settings makes it without an endpoint, but path-style to reach 127.0.0.1.
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test")
    client = session.client("s3", endpoint_url=moto_over_https, region_name="us-east-1",
                            verify=False, config=Config(signature_version="s3v4", s3={
                                "payload_signing_enabled": False, "addressing_style": "path"}))
    client.create_bucket(Bucket=TEST_BUCKET)
    storage = S3Storage(session, client, TEST_BUCKET, region="us-east-1",
                        endpoint=moto_over_https)
    sent: list[Any] = []
    client.meta.events.register("before-send.s3.PutObject",
                                lambda request, **_: sent.append(request.headers))
    data = bytes(range(256)) * 8_000 + b"end"
    with tempfile.TemporaryFile(buffering=0) as spool:
        pipe = SpoolPipe(spool, len(data))

        def arrive() -> None:
            for start in range(0, len(data), 64 * 1024):
                pipe.wrote(spool.write(data[start:start + 64 * 1024]))
                time.sleep(0.001)
            pipe.end(len(data))

        writer = threading.Thread(target=arrive)
        writer.start()
        storage.put("forwarded/x", pipe, content_type="application/octet-stream",
                    size=len(data))
        writer.join()
    headers = sent[0]
    assert headers["Content-Encoding"] == b"aws-chunked"
    assert headers["X-Amz-Trailer"] == b"x-amz-checksum-crc32"
    assert headers["X-Amz-Decoded-Content-Length"] == str(len(data)).encode()
    stored = client.get_object(Bucket=TEST_BUCKET, Key="forwarded/x", ChecksumMode="ENABLED")
    assert stored["Body"].read() == data
    assert "ChecksumCRC32" in stored


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore signs with this moment, whoever asks it to sign."""
    import datetime

    import botocore.auth

    moment = datetime.datetime(2026, 12, 7, 12, 0, 0)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: moment)


@pytest.mark.parametrize("where", [{}, {"s3_bucket": "files", "aws_region": "eu-west-1"},
                                   {"s3_bucket": "a.b", "aws_region": "us-east-1"}],
                         ids=["endpoint", "aws", "dotted"])
def test_urls_are_the_clients_own(frozen_clock: None, s3: S3Storage, where: dict[str, str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Signed once per URL with botocore's query signer, not through the client's whole
    pipeline: the very URLs the client's generate_presigned_url makes, on a custom endpoint
    (path-style) and on AWS (virtual-hosted, or path-style for a dotted name)."""
    if where:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
        monkeypatch.setenv("AWS_SESSION_TOKEN", "token/with+chars")
        s3 = S3Storage.from_settings(load_settings(**where))
    key, checksum = new_key(), hashlib.sha256(b"data").hexdigest()
    by_client = s3.client.generate_presigned_url
    put = s3.presign_put(key, content_type="image/png", size=4, sha256=checksum, expires_in=60)
    assert put.url == by_client("put_object", ExpiresIn=60, Params={
        "Bucket": s3.bucket, "Key": key, "ContentType": "image/png", "ContentLength": 4,
        "IfNoneMatch": "*", "Tagging": PENDING_TAGGING, "ChecksumAlgorithm": "SHA256",
        "ChecksumSHA256": base64.b64encode(hashlib.sha256(b"data").digest()).decode()})
    unchecked = s3.presign_put(key, content_type="text/plain", size=0, sha256=None,
                               expires_in=900)
    assert unchecked.url == by_client("put_object", ExpiresIn=900, Params={
        "Bucket": s3.bucket, "Key": key, "ContentType": "text/plain", "ContentLength": 0,
        "IfNoneMatch": "*", "Tagging": PENDING_TAGGING})
    name = "rapport d'été; \"final\".pdf"
    assert s3.presign_get(key, expires_in=77, download_name=name) == by_client(
        "get_object", ExpiresIn=77, Params={
            "Bucket": s3.bucket, "Key": key,
            "ResponseContentDisposition": content_disposition(name)})
    assert s3.presign_get(key, expires_in=5) == by_client(
        "get_object", ExpiresIn=5, Params={"Bucket": s3.bucket, "Key": key})
    assert s3.presign_part(key, "up/load+id=", 7, size=5_242_880, expires_in=30) == by_client(
        "upload_part", ExpiresIn=30, Params={"Bucket": s3.bucket, "Key": key,
                                             "UploadId": "up/load+id=", "PartNumber": 7,
                                             "ContentLength": 5_242_880})
