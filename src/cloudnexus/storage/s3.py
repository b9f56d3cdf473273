"""S3 (and S3-compatible stores): bytes in one bucket, presigned URLs signed with SigV4."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, BinaryIO
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError, NoCredentialsError

from cloudnexus.config import Settings
from cloudnexus.limits import MAX_COPY_BYTES, MiB
from cloudnexus.storage.base import (
    PENDING_STATE,
    READY_STATE,
    STATE_TAG,
    MultipartUpload,
    ObjectExists,
    ObjectInfo,
    ObjectNotFound,
    PresignedRequest,
    StorageError,
    UploadedPart,
)
from cloudnexus.storage.disposition import content_disposition

_MISSING = {"404", "NoSuchKey", "NoSuchUpload", "NotFound"}
_TAKEN = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_REJECTED = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}
# A signed header of every presigned write: the client cannot leave it out or change it, so
# the object is pending (not publicly readable, expired by the lifecycle rule) until complete.
_PENDING_TAGGING = f"{STATE_TAG}={PENDING_STATE}"
# put() streams: at most a few 8 MiB chunks are ever held in memory.
_TRANSFER = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB,
                           max_concurrency=4)
_TRANSFER.max_in_memory_upload_chunks = 4
# CompleteMultipartUpload assembles the whole object before it answers: S3 keeps the
# connection alive meanwhile, but an S3-compatible store may stay silent for as long as it
# takes (moto: seconds per GiB). Under the 20 s of the other calls it was retried on top of
# the assembly still running; it gets a read timeout of its own instead.
ASSEMBLY_READ_TIMEOUT = 300


@contextmanager
def _mapped(what: str) -> Iterator[None]:
    """A missing object or upload becomes ObjectNotFound, refused parts StorageError."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") in _MISSING:
            raise ObjectNotFound(what) from exc
        if error.get("Code") in _REJECTED:
            raise StorageError(f"{error['Code']}: {error.get('Message', '')}") from exc
        raise


class _HashingReader:
    """Counts and hashes the bytes the uploader reads; deliberately not seekable."""

    def __init__(self, body: BinaryIO) -> None:
        self._body, self.size, self.sha256 = body, 0, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        # The uploader takes a short read for the end of the body, so fill each read even when
        # the body (a socket or request stream) returns less per call.
        pieces, wanted = [], size if size >= 0 else None
        while wanted is None or wanted > 0:
            piece = self._body.read(wanted if wanted is not None else MiB)
            if not piece:
                break
            pieces.append(piece)
            wanted = None if wanted is None else wanted - len(piece)
        chunk = b"".join(pieces)
        self.size += len(chunk)
        self.sha256.update(chunk)
        return chunk


def _checksum(sha256: str) -> str:
    """S3's form of a SHA-256 given in hex: base64 of its 32 bytes."""
    digest = bytes.fromhex(sha256)
    if len(digest) != 32:
        raise ValueError("sha256 must be 64 hexadecimal digits")
    return base64.b64encode(digest).decode()


def _sha256_hex(response: dict[str, Any]) -> str | None:
    """From a full-object ChecksumSHA256, never a composite one (a checksum of the parts')."""
    # S3 marks composites with ChecksumType and a `-N` suffix; some compatible stores (moto)
    # mark neither, so an ETag with a `-N` suffix (a multipart object) also rules it out.
    checksum, kind = response.get("ChecksumSHA256"), response.get("ChecksumType")
    multipart = "-" in (checksum or "") or "-" in response.get("ETag", "")
    if checksum and (kind == "FULL_OBJECT" or (kind is None and not multipart)):
        return base64.b64decode(checksum).hex()
    sha256: str | None = response.get("Metadata", {}).get("sha256")
    return sha256


class _QuerySigner:
    """Presigned URLs of one bucket's objects, signed by botocore's own SigV4 query signer with
    the session's credentials. The client's generate_presigned_url validates and serializes
    the parameters and resolves the endpoint again for every URL, most of its cost
    (docs/performance.md); here the bucket's URL is the client's own, found once, and each
    URL signs exactly the headers a client is told to send."""

    _PROBE = "cloudnexus-probe"

    def __init__(self, client: Any, bucket: str, credentials: Any) -> None:
        self._client, self._bucket, self._credentials = client, bucket, credentials

    @cached_property
    def _bucket_url(self) -> str:
        """The bucket's URL as the client addresses it, with a trailing slash."""
        probe: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": self._PROBE})
        return probe.split(self._PROBE, 1)[0]

    def url(self, method: str, key: str, *, expires_in: int, headers: dict[str, str] | None = None,
            query: dict[str, str] | None = None) -> str:
        request = AWSRequest(method=method, url=self._bucket_url + quote(key, safe="/~"),
                             headers=headers, params=query)
        S3SigV4QueryAuth(self._credentials.get_frozen_credentials(), "s3",
                         self._client.meta.region_name, expires=expires_in).add_auth(request)
        url: str = request.url
        return url


class S3Storage:
    """One bucket through a boto3 client made once, with short timeouts so outages fail fast."""

    name = "s3"
    remote = True

    def __init__(self, session: Any, client: Any, bucket: str, *, region: str,
                 endpoint: str | None) -> None:
        self.session = session  # the boto3 session `client` came from: its credentials sign
        self.client, self.bucket, self.region, self.endpoint = client, bucket, region, endpoint

    @cached_property
    def _signer(self) -> _QuerySigner:
        credentials = self.session.get_credentials()
        if credentials is None:  # as the client's own presigning would answer
            raise NoCredentialsError()
        return _QuerySigner(self.client, self.bucket, credentials)

    @cached_property
    def assembler(self) -> Any:
        """The client CompleteMultipartUpload is sent with: the same, but for its read timeout."""
        return self.session.client("s3", endpoint_url=self.endpoint, config=self.client.meta
                                    .config.merge(Config(read_timeout=ASSEMBLY_READ_TIMEOUT)))

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        if settings.s3_bucket is None:
            raise ValueError("S3Storage needs S3_BUCKET")
        endpoint = str(settings.s3_endpoint_url).rstrip("/") if settings.s3_endpoint_url else None
        # A body is sent with its SHA-256 (a signed header, which the store checks), so it is
        # not hashed a second time for the signature: botocore already skips that over HTTPS,
        # and this makes a plain-HTTP endpoint (a local S3-compatible store) do the same.
        s3_options: dict[str, Any] = {"payload_signing_enabled": False}
        options: dict[str, Any] = {}
        if endpoint:  # S3-compatible stores: path-style, and checksums only when asked for
            s3_options["addressing_style"] = "path"
            options = {"request_checksum_calculation": "when_required",
                       "response_checksum_validation": "when_required"}
        config = Config(region_name=settings.aws_region, signature_version="s3v4",
                        connect_timeout=3, read_timeout=20, s3=s3_options,
                        retries={"mode": "standard", "total_max_attempts": 3},  # 3 tries in all
                        **options)
        session = boto3.session.Session()
        client = session.client("s3", endpoint_url=endpoint, config=config)
        return cls(session, client, settings.s3_bucket, region=settings.aws_region,
                   endpoint=endpoint)

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)

    def put(self, key: str, body: BinaryIO, *, content_type: str,
            sha256: str | None = None, size: int | None = None) -> ObjectInfo:
        if sha256 is not None:  # S3 checks the caller's digest: no second pass to hash here
            length = body.seek(0, io.SEEK_END)
            body.seek(0)
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body,
                                   ContentType=content_type, ChecksumAlgorithm="SHA256",
                                   ChecksumSHA256=_checksum(sha256))
            return ObjectInfo(key=key, size=length, content_type=content_type, sha256=sha256)
        if size is not None:  # one request, sent as the body is read (S3 refuses a short one)
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentLength=size,
                                   ContentType=content_type)
            return ObjectInfo(key=key, size=size, content_type=content_type)
        reader = _HashingReader(body)
        extra = {"ContentType": content_type, "ChecksumAlgorithm": "SHA256"}
        self.client.upload_fileobj(reader, self.bucket, key, ExtraArgs=extra, Config=_TRANSFER)
        return ObjectInfo(key=key, size=reader.size, content_type=content_type,
                          sha256=reader.sha256.hexdigest())

    def open(self, key: str) -> BinaryIO:
        with _mapped(key):
            body: BinaryIO = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        return body

    def read_head(self, key: str, length: int) -> bytes:
        with _mapped(key):
            response = self.client.get_object(Bucket=self.bucket, Key=key,
                                              Range=f"bytes=0-{length - 1}")
        with response["Body"] as body:
            data: bytes = body.read(length)
        return data

    def create(self, key: str, data: bytes, *, content_type: str) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*",
                                   ContentType=content_type, ChecksumAlgorithm="SHA256")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _TAKEN:
                raise ObjectExists(key) from None
            raise

    def head(self, key: str) -> ObjectInfo:
        with _mapped(key):
            response = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        return ObjectInfo(key=key, size=response["ContentLength"],
                          content_type=response.get("ContentType"), etag=response.get("ETag"),
                          sha256=_sha256_hex(response), last_modified=response.get("LastModified"))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)  # S3 deletes are idempotent

    def copy(self, source_key: str, dest_key: str) -> None:
        source = {"Bucket": self.bucket, "Key": source_key}
        with _mapped(source_key):
            head = self.client.head_object(Bucket=self.bucket, Key=source_key)
            if head["ContentLength"] <= MAX_COPY_BYTES:  # ChecksumAlgorithm: a fresh SHA-256
                self.client.copy_object(Bucket=self.bucket, Key=dest_key, CopySource=source,
                                        ChecksumAlgorithm="SHA256")
                return
            extra = {"ContentType": head.get("ContentType", "binary/octet-stream"),
                     "Metadata": head.get("Metadata", {}), "ChecksumAlgorithm": "SHA256"}
            self.client.copy(source, self.bucket, dest_key, ExtraArgs=extra, Config=_TRANSFER)

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                yield ObjectInfo(key=item["Key"], size=item["Size"], etag=item.get("ETag"),
                                 last_modified=item.get("LastModified"))

    def presign_get(self, key: str, *, expires_in: int, download_name: str | None = None) -> str:
        disposition = content_disposition(download_name) if download_name else None
        query = {"response-content-disposition": disposition} if disposition else None
        return self._signer.url("GET", key, expires_in=expires_in, query=query)

    def presign_put(self, key: str, *, content_type: str, size: int, sha256: str | None,
                    expires_in: int) -> PresignedRequest:
        # If-None-Match: * makes the PUT a create: once the object is stored (the upload
        # completed), the URL cannot replace its bytes; S3 answers 412 PreconditionFailed.
        headers = {"Content-Type": content_type, "Content-Length": str(size),
                   "If-None-Match": "*", "x-amz-tagging": _PENDING_TAGGING}
        if sha256 is not None:
            checksum = _checksum(sha256)
            # x-amz-sdk-checksum-algorithm is what SDKs send with a checksum; some S3-compatible
            # stores (moto among them) record the checksum only when it is present.
            headers.update({"x-amz-sdk-checksum-algorithm": "SHA256",
                            "x-amz-checksum-sha256": checksum})
        url = self._signer.url("PUT", key, expires_in=expires_in, headers=headers)
        return PresignedRequest(method="PUT", url=url, headers=headers)

    def public_url(self, key: str) -> str:
        if not key.startswith("uploads/"):
            raise ValueError(f"only keys under uploads/ have a public URL: {key!r}")
        path = quote(key, safe="/")
        if self.endpoint:
            return f"{self.endpoint}/{self.bucket}/{path}"
        if "." in self.bucket:  # a dotted bucket name breaks the wildcard TLS certificate
            return f"https://s3.{self.region}.amazonaws.com/{self.bucket}/{path}"
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com/{path}"

    def mark_ready(self, key: str) -> None:
        with _mapped(key):
            self.client.put_object_tagging(
                Bucket=self.bucket, Key=key,
                Tagging={"TagSet": [{"Key": STATE_TAG, "Value": READY_STATE}]})

    def create_multipart(self, key: str, *, content_type: str) -> str:
        response = self.client.create_multipart_upload(Bucket=self.bucket, Key=key,
                                                       ContentType=content_type,
                                                       Tagging=_PENDING_TAGGING)
        return str(response["UploadId"])

    def presign_part(self, key: str, upload_id: str, part_number: int, *, size: int,
                     expires_in: int) -> str:
        return self._signer.url("PUT", key, expires_in=expires_in, query={
            "uploadId": upload_id, "partNumber": str(part_number)},
            headers={"Content-Length": str(size)})

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        pages = self.client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key,
                                                                 UploadId=upload_id)
        with _mapped(f"{key} (upload {upload_id})"):
            return [UploadedPart(part["PartNumber"], part["ETag"], part["Size"])
                    for page in pages for part in page.get("Parts", [])]

    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        listed = [{"PartNumber": part.part_number, "ETag": part.etag} for part in parts]
        with _mapped(f"{key} (upload {upload_id})"):
            self.assembler.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": listed})

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            with _mapped(key):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                                   UploadId=upload_id)
        except ObjectNotFound:
            return

    def list_multipart(self, prefix: str) -> Iterator[MultipartUpload]:
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket,
                                                                             Prefix=prefix)
        for page in pages:
            for upload in page.get("Uploads", []):
                yield MultipartUpload(upload["Key"], upload["UploadId"], upload.get("Initiated"))
