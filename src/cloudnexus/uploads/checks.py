"""Checking what storage holds for an upload against what was declared for it."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

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


def check_stored(storage: Storage, upload: Upload) -> ObjectInfo:
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
    if upload.sha256 and not mismatches:
        actual = stored.sha256 if upload.method == SINGLE and stored.sha256 else \
            hash_object(storage, upload)
        if actual != upload.sha256:
            mismatches.append({"field": "sha256", "declared": upload.sha256, "stored": actual})
    if mismatches:
        storage.delete(upload.storage_key)
        raise UploadMismatch(details=mismatches)
    return stored


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
    the object `key` its bytes went to), in chunks.

    The next chunk is read on a second thread while this one hashes the last (both release
    the GIL), so the check takes about as long as the slower of the two, not their sum."""
    digest = hashlib.sha256()
    try:
        with storage.open(key or upload.storage_key) as body, ThreadPoolExecutor(1) as reader:
            pending = reader.submit(body.read, READ_BACK_CHUNK)
            while chunk := pending.result():
                pending = reader.submit(body.read, READ_BACK_CHUNK)
                digest.update(chunk)
    except ObjectNotFound:  # removed meanwhile (the upload was aborted or expired)
        raise _nothing_stored(upload) from None
    return digest.hexdigest()
