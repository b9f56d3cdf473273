"""The storage interface both backends implement, and the values it passes around."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol


class StorageError(Exception):
    """A storage operation failed for a reason the caller can act on."""


class ObjectNotFound(StorageError):
    """No object (or multipart upload) under that key."""


class ObjectExists(StorageError):
    """Another object is already stored under that key, and the write may not replace it."""


class NotAwaited(StorageError):
    """No upload awaits bytes at that key any more: it was aborted, failed or expired."""


# The bytes of a presigned upload are stored "pending" (an object tag on S3, the sidecar on the
# local backend) until complete has checked them against the declaration: a public-read policy
# serves no pending object, and S3's lifecycle removes pending objects left behind.
STATE_TAG, PENDING_STATE, READY_STATE = "cnx-state", "pending", "ready"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str | None = None
    etag: str | None = None
    sha256: str | None = None  # lowercase hex, when the backend knows it
    last_modified: datetime | None = None


@dataclass(frozen=True)
class PresignedRequest:
    """What a client must send: exactly this method, URL and these headers."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    etag: str
    size: int


@dataclass(frozen=True)
class MultipartUpload:
    key: str
    upload_id: str
    initiated: datetime | None = None


class Storage(Protocol):
    """Bytes by key. Keys are derived from ids (see keys.py), never from user input."""

    name: str  # "s3" or "local"
    # Its puts cross a network: a large direct upload's part goes on to it while it arrives
    # (files/forwarding.py). A local disk takes a part faster once it has arrived.
    remote: bool

    def check(self) -> None:
        """A cheap real call; raises when the storage cannot be reached."""

    def put(self, key: str, body: BinaryIO, *, content_type: str,
            sha256: str | None = None, size: int | None = None) -> ObjectInfo:
        """Stream `body` to `key` (never read whole into memory); returns size and sha256.

        `sha256`, when the caller hashed a seekable body already: the store checks the bytes
        against it instead of hashing them again, and refuses them if they differ.
        `size`, when the body's length is known before its bytes (a body still arriving): it
        is sent as it is read, and refused unless it is exactly that long; the caller, who
        has the bytes first, hashes them (the sha256 returned may be None)."""

    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object's bytes; ObjectNotFound when absent."""

    def read_head(self, key: str, length: int) -> bytes:
        """The object's first `length` bytes (fewer when it is shorter), without reading the
        rest (a ranged GET on S3); ObjectNotFound when absent."""

    def create(self, key: str, data: bytes, *, content_type: str) -> None:
        """Store `data` under `key` only if no object is there, all at once (readers see the
        whole object or none); ObjectExists when one is."""

    def head(self, key: str) -> ObjectInfo:
        """Size, type and sha256 (None if unknown, as for S3 multipart objects); ObjectNotFound."""

    def delete(self, key: str) -> None:
        """Remove the object; succeeds when it is already gone."""

    def copy(self, source_key: str, dest_key: str) -> None:
        """Server-side copy; ObjectNotFound when the source is absent."""

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under `prefix` (for reconciliation); content type and sha256 may be None."""

    def presign_get(self, key: str, *, expires_in: int, download_name: str | None = None) -> str:
        """A GET URL; with `download_name` the response is an attachment under that name."""

    def presign_put(
        self, key: str, *, content_type: str, size: int, sha256: str | None, expires_in: int
    ) -> PresignedRequest:
        """A PUT binding content type, length and (when given) sha256; send exactly its headers.

        It only creates: once an object is stored under `key`, a PUT of other bytes is refused
        (412), so a URL cannot replace the bytes of a file after its upload is completed. The
        object it stores is pending until mark_ready(). Where the backend can (local), delete()
        withdraws the URL: a PUT after the upload was aborted, failed or expired is refused."""

    def mark_ready(self, key: str) -> None:
        """The checks passed: the pending object of a presigned upload may now be served
        publicly (when under `uploads/`) and is kept; ObjectNotFound when absent."""

    def public_url(self, key: str) -> str:
        """The stable, unsigned URL of an `uploads/` object; ValueError for any other key."""

    def create_multipart(self, key: str, *, content_type: str) -> str:
        """Start a multipart upload, whose assembled object is pending; returns its id."""

    def presign_part(self, key: str, upload_id: str, part_number: int, *, size: int,
                     expires_in: int) -> str:
        """A PUT URL for one part (1..10000) of exactly `size` bytes (the signature binds the
        length); the response's ETag header is the part's etag."""

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """The parts received so far, by part number; ObjectNotFound for an unknown upload."""

    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        """Assemble the parts; StorageError if one is missing, mismatched, misordered or small."""

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Discard the upload and its parts; succeeds when it is already gone."""

    def list_multipart(self, prefix: str) -> Iterator[MultipartUpload]:
        """Multipart uploads in progress under `prefix` (for maintenance)."""
