"""Checking what storage holds for an upload against what was declared for it."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from cloudnexus.errors import UploadMismatch
from cloudnexus.limits import MiB
from cloudnexus.storage.base import ObjectInfo, ObjectNotFound, Storage, StorageError, UploadedPart
from cloudnexus.uploads.models import SINGLE, Upload
from cloudnexus.uploads.schemas import CompletedPart

READ_BACK_CHUNK = 4 * MiB


def assemble(storage: Storage, upload: Upload, parts: list[CompletedPart] | None) -> None:
    """Assemble the parts into the object; nothing to do once the multipart upload is gone
    (assembled by an earlier attempt that did not get to record it: checked next)."""
    if upload.multipart_id is None:
        raise ValueError("not a multipart upload")
    try:
        if parts is None:
            chosen = storage.list_parts(upload.storage_key, upload.multipart_id)
        else:
            chosen = [UploadedPart(part.part_number, part.etag, 0)
                      for part in sorted(parts, key=lambda part: part.part_number)]
        if not chosen:
            raise UploadMismatch("No parts were uploaded")
        storage.complete_multipart(upload.storage_key, upload.multipart_id, chosen)
    except ObjectNotFound:
        return
    except StorageError as exc:
        raise UploadMismatch(f"The parts could not be assembled: {exc}") from None


@dataclass(frozen=True)
class Checked:
    """The stored object as checked, and its first bytes when the check read them back
    (sniffing takes them from there rather than asking storage again)."""

    info: ObjectInfo
    first_bytes: bytes | None = None


def check_stored(storage: Storage, upload: Upload) -> Checked:
    """The stored object, if it is what was declared; else it is removed and 422 raised."""
    try:
        stored = storage.head(upload.storage_key)
    except ObjectNotFound:
        raise _nothing_stored(upload) from None
    mismatches = []
    if stored.size != upload.size:
        mismatches.append({"field": "size", "declared": upload.size, "stored": stored.size})
    stored_type = (stored.content_type or "").lower()
    if stored_type != upload.content_type.lower():
        mismatches.append({"field": "content_type", "declared": upload.content_type,
                           "stored": stored.content_type})
    first_bytes = None
    if upload.sha256 and not mismatches:
        if upload.method == SINGLE and stored.sha256:
            actual = stored.sha256
        else:
            actual, first_bytes = _read_back(storage, upload, upload.storage_key)
        if actual != upload.sha256:
            mismatches.append({"field": "sha256", "declared": upload.sha256, "stored": actual})
    if mismatches:
        storage.delete(upload.storage_key)
        raise UploadMismatch(details=mismatches)
    return Checked(stored, first_bytes)


class NothingStored(UploadMismatch):
    """No object is stored for the upload (yet, for a single PUT)."""


def _nothing_stored(upload: Upload) -> NothingStored:
    message = ("Nothing has been uploaded yet; send the bytes, then complete"
               if upload.method == SINGLE else
               "The multipart upload is gone and no object was assembled from it")
    return NothingStored(message, details=[{"field": "size", "declared": upload.size,
                                            "stored": None}])


def hash_object(storage: Storage, upload: Upload, key: str | None = None) -> str:
    """Multipart objects carry no whole-object SHA-256: read it back (the upload's object, or
    the object `key` its bytes went to)."""
    return _read_back(storage, upload, key or upload.storage_key)[0]


def _read_back(storage: Storage, upload: Upload, key: str) -> tuple[str, bytes]:
    """The SHA-256 of the object at `key`, read in chunks, and its first chunk.

    The next chunk is read on a second thread while this one hashes the last (both release
    the GIL), so the check takes about as long as the slower of the two, not their sum."""
    digest, first = hashlib.sha256(), None
    try:
        with storage.open(key) as body, ThreadPoolExecutor(1) as reader:
            pending = reader.submit(body.read, READ_BACK_CHUNK)
            while chunk := pending.result():
                pending = reader.submit(body.read, READ_BACK_CHUNK)
                digest.update(chunk)
                first = chunk if first is None else first
    except ObjectNotFound:  # removed meanwhile (the upload was aborted or expired)
        raise _nothing_stored(upload) from None
    return digest.hexdigest(), first or b""
