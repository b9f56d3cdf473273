"""Presigned uploads: declare, send the bytes straight to storage, complete (checked), abort."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloudnexus.buckets.models import Bucket
from cloudnexus.buckets.rules import check_upload
from cloudnexus.config import Settings
from cloudnexus.database import new_id, utcnow
from cloudnexus.errors import Conflict, NotFound, PayloadTooLarge, UploadMismatch
from cloudnexus.files import service as files
from cloudnexus.files.models import File
from cloudnexus.files.paths import check_path
from cloudnexus.storage.base import ObjectInfo, ObjectNotFound, Storage, StorageError, UploadedPart
from cloudnexus.uploads.models import ABORTED, COMPLETED, MULTIPART, PENDING, SINGLE, Upload
from cloudnexus.uploads.parts import MAX_OBJECT, part_count, part_size_for
from cloudnexus.uploads.schemas import (
    CompletedPart,
    PartUrl,
    ReceivedPart,
    UploadCreate,
    UploadOut,
)
from cloudnexus.workspaces import usage

logger = logging.getLogger("cloudnexus.uploads")
MULTIPART_LIFETIME = timedelta(hours=24)  # part URLs are renewed through GET /v1/uploads/{id}


def create(db: Session, storage: Storage, settings: Settings, *, bucket: Bucket,
           request: UploadCreate) -> Upload:
    """Check the declaration against the bucket and quota, hold the quota, start the upload."""
    path = check_path(request.path)
    if request.size > MAX_OBJECT:
        raise PayloadTooLarge("Objects are at most 5 TiB")
    check_upload(size=request.size, content_type=request.content_type,
                 max_file_size=bucket.max_file_size,
                 allowed_content_types=bucket.allowed_content_types)
    files.ensure_path_free(db, bucket=bucket, path=path, overwrite=request.overwrite)
    multipart = request.size > 0 and (
        request.multipart or request.size > settings.multipart_threshold)
    file_id = new_id()
    upload = Upload(
        workspace_id=bucket.workspace_id, bucket_id=bucket.id, bucket=bucket, file_id=file_id,
        path=path, size=request.size, content_type=request.content_type, sha256=request.sha256,
        metadata_=request.metadata, tags=request.tags, overwrite=request.overwrite,
        method=MULTIPART if multipart else SINGLE, status=PENDING,
        storage_key=files.new_object_key(bucket, file_id),
        expires_at=utcnow() + (MULTIPART_LIFETIME if multipart
                               else timedelta(seconds=settings.presign_expires)),
    )
    usage.reserve(db, workspace_id=bucket.workspace_id, size=request.size)
    if multipart:
        upload.part_size = part_size_for(request.size)
        upload.multipart_id = storage.create_multipart(upload.storage_key,
                                                       content_type=request.content_type)
    db.add(upload)
    try:
        db.commit()
    except Exception:
        db.rollback()
        if upload.multipart_id:
            storage.abort_multipart(upload.storage_key, upload.multipart_id)
        raise
    return upload


def get(db: Session, *, workspace_id: uuid.UUID, upload_id: uuid.UUID,
        lock: bool = False) -> Upload:
    query = select(Upload).where(Upload.id == upload_id, Upload.workspace_id == workspace_id)
    upload = db.scalar(query.with_for_update(of=Upload) if lock else query)
    if upload is None or upload.status not in (PENDING, COMPLETED):
        raise NotFound("Upload not found")
    return upload


def pending_in(db: Session, *, bucket: Bucket) -> list[Upload]:
    query = select(Upload).where(Upload.bucket_id == bucket.id, Upload.status == PENDING)
    return [*db.scalars(query)]


def complete(db: Session, storage: Storage, *, upload: Upload,
             parts: list[CompletedPart] | None) -> File:
    """Check the stored object against the declaration and make the file ready.

    Runs with the upload row locked, so two completes of one upload cannot both record it.
    A mismatch removes the object and leaves the upload pending; a retry after a crash
    finds the work done and returns the same file.
    """
    if upload.status == COMPLETED:
        return files.get(db, workspace_id=upload.workspace_id, file_id=upload.file_id)
    if upload.expires_at <= utcnow():
        raise NotFound("Upload expired")
    if upload.method == MULTIPART:
        _assemble(storage, upload, parts)
    stored = _check_stored(storage, upload)
    try:
        file, replaced_key = files.record(
            db, bucket=upload.bucket, file_id=upload.file_id, path=upload.path,
            size=upload.size, content_type=upload.content_type,
            sha256=upload.sha256 or stored.sha256, metadata=upload.metadata_, tags=upload.tags,
            storage_key=upload.storage_key, overwrite=upload.overwrite,
            reserved_size=upload.size)
        upload.status = COMPLETED
        db.commit()
    except Conflict:
        db.rollback()
        finish(db, storage, upload=get(db, workspace_id=upload.workspace_id,
                                       upload_id=upload.id, lock=True), status=ABORTED)
        raise
    files.delete_quietly(storage, replaced_key)
    return file


def _assemble(storage: Storage, upload: Upload, parts: list[CompletedPart] | None) -> None:
    if upload.multipart_id is None:
        raise ValueError("not a multipart upload")
    if parts is None:
        chosen = storage.list_parts(upload.storage_key, upload.multipart_id)
    else:
        chosen = [UploadedPart(part.part_number, part.etag, 0)
                  for part in sorted(parts, key=lambda part: part.part_number)]
    if not chosen:
        raise UploadMismatch("No parts were uploaded")
    try:
        storage.complete_multipart(upload.storage_key, upload.multipart_id, chosen)
    except ObjectNotFound:
        pass  # completed by an earlier attempt that did not get to record it; checked below
    except StorageError as exc:
        raise UploadMismatch(f"The parts could not be assembled: {exc}") from None


def _check_stored(storage: Storage, upload: Upload) -> ObjectInfo:
    """The stored object, if it is what was declared; else it is removed and 422 raised."""
    try:
        stored = storage.head(upload.storage_key)
    except ObjectNotFound:
        raise UploadMismatch("Nothing has been uploaded yet; send the bytes, then complete",
                             details=[{"field": "size", "declared": upload.size,
                                       "stored": None}]) from None
    mismatches = []
    if stored.size != upload.size:
        mismatches.append({"field": "size", "declared": upload.size, "stored": stored.size})
    stored_type = (stored.content_type or "").lower()
    if stored_type != upload.content_type.lower():
        mismatches.append({"field": "content_type", "declared": upload.content_type,
                           "stored": stored.content_type})
    if upload.sha256 and not mismatches:
        actual = stored.sha256 if upload.method == SINGLE and stored.sha256 else \
            _hash_object(storage, upload.storage_key)
        if actual != upload.sha256:
            mismatches.append({"field": "sha256", "declared": upload.sha256, "stored": actual})
    if mismatches:
        storage.delete(upload.storage_key)
        raise UploadMismatch(details=mismatches)
    return stored


def _hash_object(storage: Storage, key: str) -> str:
    """Multipart objects carry no whole-object SHA-256: read it back, in chunks."""
    digest = hashlib.sha256()
    with storage.open(key) as body:
        while chunk := body.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def finish(db: Session, storage: Storage, *, upload: Upload, status: str) -> None:
    """Abort or expire a pending upload: discard its bytes and give back its quota."""
    if upload.status != PENDING:
        raise Conflict(f"The upload is already {upload.status}")
    if upload.multipart_id:
        storage.abort_multipart(upload.storage_key, upload.multipart_id)
    storage.delete(upload.storage_key)
    usage.release(db, workspace_id=upload.workspace_id, size=upload.size)
    upload.status = status
    db.commit()


def describe(storage: Storage, settings: Settings, upload: Upload, *,
             just_created: bool = False) -> UploadOut:
    """The upload with fresh URLs for what is still to send (and, for multipart, the parts
    already received, so a client can resume after a crash)."""
    out = UploadOut(id=upload.id, file_id=upload.file_id, method=upload.method,  # type: ignore[arg-type]
                    status=upload.status, path=upload.path, size=upload.size,
                    content_type=upload.content_type, expires_at=upload.expires_at)
    if upload.status != PENDING:
        return out
    remaining = int((upload.expires_at - utcnow()).total_seconds())
    expires_in = max(1, min(settings.presign_expires, remaining))
    if upload.method == SINGLE:
        signed = storage.presign_put(upload.storage_key, content_type=upload.content_type,
                                     size=upload.size, sha256=upload.sha256,
                                     expires_in=expires_in)
        out.url, out.headers = signed.url, signed.headers
        return out
    if upload.multipart_id is None or upload.part_size is None:
        raise ValueError("a multipart upload without its id or part size")
    received = [] if just_created else storage.list_parts(upload.storage_key,
                                                          upload.multipart_id)
    done = {part.part_number for part in received}
    out.part_size = upload.part_size
    out.parts_received = [ReceivedPart(part_number=p.part_number, etag=p.etag, size=p.size)
                          for p in received]
    out.parts = [
        PartUrl(part_number=number, url=storage.presign_part(
            upload.storage_key, upload.multipart_id, number, expires_in=expires_in))
        for number in range(1, part_count(upload.size, upload.part_size) + 1)
        if number not in done
    ]
    return out
