"""Presigned uploads: declare, send the bytes straight to storage, complete (checked), abort."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    case,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from cloudnexus.auth.grants import Grant
from cloudnexus.buckets.models import Bucket
from cloudnexus.buckets.reads import BucketSettings
from cloudnexus.buckets.rules import check_upload
from cloudnexus.config import Settings
from cloudnexus.db.columns import new_id, row_of, utcnow
from cloudnexus.db.engine import fetch_at_once, rows_matched
from cloudnexus.errors import (
    AppError,
    Conflict,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    UploadMismatch,
    ValidationFailed,
    bucket_not_found,
    error_of,
)
from cloudnexus.events import outbox, types
from cloudnexus.files import service as files
from cloudnexus.files.models import DELETING, File
from cloudnexus.files.paths import check_path
from cloudnexus.limits import MAX_OBJECT_BYTES
from cloudnexus.previews.checks import check_detected, sniff_stored
from cloudnexus.previews.sniffing import SNIFF_BYTES, Sniffed, sniff
from cloudnexus.storage.base import ObjectNotFound, Storage
from cloudnexus.uploads import checks
from cloudnexus.uploads.describe import shown
from cloudnexus.uploads.models import (
    ABORTED,
    COMPLETED,
    EXPIRED,
    FAILED,
    MULTIPART,
    PENDING,
    SINGLE,
    Upload,
)
from cloudnexus.uploads.parts import part_size_for
from cloudnexus.uploads.schemas import (
    CompletedPart,
    UploadCreate,
)
from cloudnexus.workspaces import usage

logger = logging.getLogger("cloudnexus.uploads")
MULTIPART_LIFETIME = timedelta(hours=24)  # part URLs are renewed through GET /v1/uploads/{id}


def create(db: Session, storage: Storage, settings: Settings, *, bucket: BucketSettings,
           request: UploadCreate, grant: Grant | None, created_by: str) -> Upload:
    """Check the declaration against the token's grant, the bucket and the quota, hold the
    quota, start the upload (its row written as one Core statement: the ORM's unit of work
    cost more Python than the statement)."""
    path = check_path(request.path)
    if grant is not None:
        grant.check_new_file(path=path, size=request.size, content_type=request.content_type)
    if request.size > MAX_OBJECT_BYTES:
        raise PayloadTooLarge("Objects are at most 5 TiB")
    check_upload(size=request.size, content_type=request.content_type,
                 max_file_size=bucket.max_file_size,
                 allowed_content_types=bucket.allowed_content_types)
    multipart = request.size > 0 and (
        request.multipart or request.size > settings.multipart_threshold)
    upload = _declared(bucket, path, request, created_by=created_by, multipart=multipart,
                       expires_in=settings.presign_expires)
    if not multipart and db.get_bind().dialect.name == "postgresql":
        _record_at_once(db, bucket=bucket, upload=upload)
        return upload
    public, upload.replaces_file_id = _hold(db, bucket=bucket, path=path, size=request.size,
                                            overwrite=request.overwrite)
    upload.storage_key = files.new_object_key(replace(bucket, public=public), upload.file_id)
    if multipart:
        upload.multipart_id = storage.create_multipart(upload.storage_key,
                                                       content_type=request.content_type)
    try:
        db.connection().execute(_INSERT_UPLOAD, row_of(upload))
        db.commit()
    except Exception:
        db.rollback()
        if upload.multipart_id:
            storage.abort_multipart(upload.storage_key, upload.multipart_id)
        raise
    return upload


def _declared(bucket: BucketSettings, path: str, request: UploadCreate, *, created_by: str,
              multipart: bool, expires_in: int) -> Upload:
    """The upload as declared, its object key as for the bucket's visibility as read (the
    hold reads it again under its lock) and replacing nothing yet."""
    file_id, now = new_id(), utcnow()
    return Upload(
        id=new_id(), workspace_id=bucket.workspace_id, bucket_id=bucket.id, file_id=file_id,
        path=path, size=request.size, content_type=request.content_type, sha256=request.sha256,
        metadata_=request.metadata, tags=request.tags, overwrite=request.overwrite,
        replaces_file_id=None, method=MULTIPART if multipart else SINGLE, status=PENDING,
        created_by=created_by, storage_key=files.new_object_key(bucket, file_id),
        part_size=part_size_for(request.size) if multipart else None, multipart_id=None,
        refusal=None, created_at=now,
        expires_at=now + (MULTIPART_LIFETIME if multipart else timedelta(seconds=expires_in)),
    )


_UPLOADS = cast(Table, Upload.__table__)
_INSERT_UPLOAD = insert(_UPLOADS)
# The quota held, and read under the workspace's lock that holds it: the bucket's visibility,
# which the object key's prefix follows, under a share lock (so a visibility change,
# buckets.update, waits for this upload to be recorded, then sees it in flight and refuses;
# or it went first, and this reads it: the workspace's row before the bucket's, as every
# usage change takes them), and the file holding the path. One statement, one round trip.
_FILE_AT_PATH = select(File.id).where(*files.AT_PATH, File.status != DELETING) \
    .scalar_subquery()
_VISIBILITY = select(Bucket.public).where(Bucket.id == bindparam("bucket_id")) \
    .with_for_update(read=True).scalar_subquery()
_HOLD = usage.reserving(_VISIBILITY.label("public"), _FILE_AT_PATH.label("holder"))

# A single PUT's start on PostgreSQL, as one statement in a transaction of its own: the hold
# as above, made only when the path is free (or to be overwritten), and the upload's row from
# what it returns (its key under the visibility read under the lock, the file it would
# replace). Nothing is held without the row: a bucket deleted meanwhile fails the row's
# foreign key, and the whole statement with it. Saves BEGIN, a statement and COMMIT. Its
# commit does not wait for the disk: see docs/architecture.md ("Durability").
_HELD = usage.reserving(
    _VISIBILITY.label("public"), _FILE_AT_PATH.label("holder"),
    literal_column("set_config('synchronous_commit', 'off', true)").label("commit_later"),
).where(or_(bindparam("overwrite"), _FILE_AT_PATH.is_(None))).cte("held")
_FROM_HELD: dict[str, ColumnElement[Any]] = {
    "storage_key": case((_HELD.c.public, bindparam("public_key")),
                        else_=bindparam("private_key")),
    "replaces_file_id": _HELD.c.holder,
}
# The row's values are bound as `row_<column>`: an UPDATE compiled with parameters named as
# its table's columns would set those columns too (the workspace's id and created_at).
_RECORD_AT_ONCE = insert(_UPLOADS).from_select(
    [column.key for column in _UPLOADS.c],
    # (commit_later named, so that no plan could leave the setting out.)
    select(*(_FROM_HELD.get(column.key, bindparam(f"row_{column.key}", type_=column.type))
             for column in _UPLOADS.c)).where(_HELD.c.commit_later == "off"),
).returning(_UPLOADS.c.storage_key, _UPLOADS.c.replaces_file_id)


def _record_at_once(db: Session, *, bucket: BucketSettings, upload: Upload) -> None:
    """Hold the quota and write the upload's row in one statement (PostgreSQL), committed
    without waiting for the disk: a single PUT's upload leaves nothing else behind, so the
    crash that could lose it (within a fraction of a second) loses only a URL not yet used,
    and every later commit (its complete's) writes it down first. Refused: 409, then 403,
    then 404, as _hold."""
    keys = {"public_key": files.new_object_key(replace(bucket, public=True), upload.file_id),
            "private_key": files.new_object_key(replace(bucket, public=False), upload.file_id)}
    try:
        recorded = fetch_at_once(db, _RECORD_AT_ONCE, {
            **{f"row_{column}": value for column, value in row_of(upload).items()}, **keys,
            **usage.reservation(workspace_id=bucket.workspace_id, size=upload.size),
            "bucket_id": bucket.id, "path": upload.path, "overwrite": upload.overwrite})
    except IntegrityError:
        raise bucket_not_found(bucket.name) from None  # deleted meanwhile
    if recorded is None:
        # Said as the path's own check says it (409), else the quota's (403).
        files.ensure_path_free(db, bucket=bucket, path=upload.path, overwrite=upload.overwrite)
        refused = usage.quota_exceeded(db, workspace_id=bucket.workspace_id, size=upload.size,
                                       files=1)
        # Neither, by now: the file that held the path went away meanwhile.
        raise refused if refused.details else Conflict(
            f"A file held '{upload.path}' a moment ago; retry")
    upload.storage_key, upload.replaces_file_id = recorded


def _hold(db: Session, *, bucket: BucketSettings, path: str, size: int,
          overwrite: bool) -> tuple[bool, uuid.UUID | None]:
    """Hold the quota for the upload; the bucket's visibility, and the id of the file an
    overwrite would replace (and keep). 409 when a file holds the path and the caller did
    not ask to overwrite, then 403 when the quota has no room, then 404 when the bucket is
    gone (as if checked in that order). In the caller's transaction, whose commit waits for
    the disk (a multipart upload's: storage already holds its multipart upload)."""
    held = db.connection().execute(_HOLD, {
        **usage.reservation(workspace_id=bucket.workspace_id, size=size),
        "bucket_id": bucket.id, "path": path}).first()
    if held is None or (held.holder is not None and not overwrite):
        # Said as the path's own check says it (409), else the quota's (403).
        files.ensure_path_free(db, bucket=bucket, path=path, overwrite=overwrite)
        if held is None:
            raise usage.quota_exceeded(db, workspace_id=bucket.workspace_id, size=size, files=1)
    if held.public is None:
        raise bucket_not_found(bucket.name)  # deleted meanwhile
    # (Not overwriting: a file that held the path was gone by the check above.)
    replaces: uuid.UUID | None = held.holder if overwrite else None
    return bool(held.public), replaces


def get(db: Session, *, workspace_id: uuid.UUID, upload_id: uuid.UUID,
        lock: bool = False) -> Upload:
    query = select(Upload).where(Upload.id == upload_id, Upload.workspace_id == workspace_id)
    upload = db.scalar(query.with_for_update(of=Upload) if lock else query)
    if upload is None or (upload.status not in (PENDING, COMPLETED, FAILED)
                          and upload.refusal is None):
        raise NotFound("Upload not found")
    return upload


def pending_in(db: Session, *, bucket: Bucket, lock: bool = False) -> list[Upload]:
    query = select(Upload).where(Upload.bucket_id == bucket.id, Upload.status == PENDING)
    return [*db.scalars(query.with_for_update() if lock else query)]


def complete(db: Session, storage: Storage, *, upload: Upload,
             parts: list[CompletedPart] | None, sha256: str | None = None) -> File:
    """Check the stored object against the declaration and make the file ready.

    Runs with the upload row locked (on PostgreSQL), and the upload leaves 'pending' only
    through one conditional UPDATE, so a complete racing an abort, an expiry or another
    complete acts once. A mismatch removes the object and fails the upload (its URLs are
    refused from then on, its quota given back); a single PUT completed before its bytes
    were sent stays pending. The checked object is marked ready (publicly readable in a
    public bucket) before the file is recorded. A retry after a crash finds the work done
    and returns the same file. A refusal that ended the upload is kept, and every later
    complete answers it again: the client's complete after its bytes' arrival was refused
    answers what its own would have.
    """
    if upload.status != PENDING:
        return _already_over(db, storage, upload, sha256)
    if upload.expires_at <= utcnow():
        raise NotFound("Upload expired")
    if sha256 is not None:
        _declare_sha256(upload, sha256)
    checked = _checked_object(db, storage, upload, parts)
    stored = checked.info
    sniffed = _sniffed(db, storage, upload, checked.first_bytes)
    if not _leave_pending(db, upload, COMPLETED):
        db.refresh(upload)
        return _already_over(db, storage, upload, sha256)
    try:
        # While the upload's row is held (an abort waits), before the record that makes the
        # file visible: a public bucket's object is readable from here on.
        storage.mark_ready(upload.storage_key)
        file, leftover_key = files.record(db, storage, files.NewFile(
            bucket=upload.bucket, file_id=upload.file_id, path=upload.path, size=upload.size,
            content_type=upload.content_type, sha256=upload.sha256 or stored.sha256,
            metadata=upload.metadata_, tags=upload.tags, storage_key=upload.storage_key,
            overwrite=upload.overwrite, created_by=upload.created_by,
            reserved_size=upload.size, sniffed=sniffed))
        upload.replaces_file_id = file.id if file.id != upload.file_id else None
        db.commit()
    except Conflict as taken:
        db.rollback()
        finish(db, storage, upload=upload, status=ABORTED, refusal=taken)
        raise
    files.delete_quietly(storage, leftover_key)
    return file


def complete_arrived(db: Session, storage: Storage, *, storage_key: str) -> File | None:
    """Complete the pending single-PUT upload stored under `storage_key`, as its client's
    complete would (a later complete answers the same File); None when there is none, or
    when a check refused it (then the upload is failed or left as complete leaves it)."""
    query = select(Upload).where(Upload.status == PENDING, Upload.method == SINGLE,
                                 Upload.storage_key == storage_key)
    upload = db.scalar(query.with_for_update(of=Upload))
    if upload is None:
        return None
    try:
        return complete(db, storage, upload=upload, parts=None)
    except AppError as refused:
        db.rollback()
        logger.info("an upload did not complete itself", extra={
            "upload_id": str(upload.id), "error": refused.message})
        return None


def _declare_sha256(upload: Upload, sha256: str) -> None:
    """The SHA-256 given at complete joins the declaration (checked with it next); one
    already declared cannot be changed."""
    _check_declared(upload, sha256)
    upload.sha256 = sha256


def _check_declared(upload: Upload, sha256: str) -> None:
    if upload.sha256 is not None and upload.sha256 != sha256:
        raise ValidationFailed(details=[{"field": "sha256", "declared": upload.sha256,
                                         "given": sha256}],
                               message="The upload was created with another sha256")


def _already_over(db: Session, storage: Storage, upload: Upload, sha256: str | None) -> File:
    """What completing an upload that is no longer pending answers: its file (when a SHA-256
    is named, the stored bytes must have it, as at its first complete), or the refusal that
    ended it, again."""
    if upload.status == COMPLETED:
        file = files.get(db, workspace_id=upload.workspace_id, file_id=upload.result_file_id)
        if sha256 is not None:
            _check_declared(upload, sha256)
            # Completed on arrival without a declared SHA-256, from storage that computes
            # none (S3): the bytes are read back, as that first complete would have.
            actual = file.sha256 or checks.hash_object(storage, upload, file.storage_key)
            if actual != sha256:
                raise UploadMismatch(details=[{"field": "sha256", "declared": sha256,
                                               "stored": actual}])
        return file
    if upload.refusal is not None:
        raise error_of(**upload.refusal)
    if upload.status == FAILED:
        raise UploadMismatch("The uploaded object differed from the declaration and was "
                             "removed; this upload is over, start a new one")
    raise NotFound("Upload not found")


def _checked_object(db: Session, storage: Storage, upload: Upload,
                    parts: list[CompletedPart] | None) -> checks.Checked:
    """The stored (for multipart: assembled) object, if it is what was declared; else the
    upload fails (a multipart upload's parts are consumed by the assembly)."""
    if upload.method == MULTIPART:
        checks.assemble(storage, upload, parts)
    try:
        return checks.check_stored(storage, upload)
    except UploadMismatch as mismatch:
        # A single PUT completed before its bytes were sent stays open for them.
        if upload.method == MULTIPART or not isinstance(mismatch, checks.NothingStored):
            finish(db, storage, upload=upload, status=FAILED, refusal=mismatch)
        raise


def _sniffed(db: Session, storage: Storage, upload: Upload,
             first_bytes: bytes | None) -> Sniffed:
    """What the stored bytes begin with (`first_bytes`, when the checks read them back;
    else a ranged read); bytes of a type the bucket does not allow (an executable declared
    image/png) fail the upload like a mismatch, then 415."""
    try:
        sniffed = sniff_stored(storage, upload.storage_key) if first_bytes is None \
            else sniff(first_bytes[:SNIFF_BYTES])
    except ObjectNotFound:  # removed since it was checked: an abort, which the move out of
        return Sniffed(None, None)  # 'pending' that follows finds (404)
    try:
        check_detected(sniffed, upload.bucket.allowed_content_types)
    except UnsupportedMediaType as refused:
        finish(db, storage, upload=upload, status=FAILED, refusal=refused)
        raise
    return sniffed


def abort(db: Session, storage: Storage, *, upload: Upload) -> None:
    """Abort a pending upload; 409 once it completed or failed, 404 once aborted or expired."""
    if finish(db, storage, upload=upload, status=ABORTED):
        return
    db.refresh(upload)
    if upload.status in (COMPLETED, FAILED):
        raise Conflict(f"The upload is already {upload.status}")
    raise NotFound("Upload not found")


def finish(db: Session, storage: Storage, *, upload: Upload, status: str,
           refusal: AppError | None = None) -> bool:
    """Abort, expire or fail a pending upload: discard its bytes and give back its quota;
    a complete's `refusal` that ended it is kept with it.

    False, with nothing done, when the upload has already left 'pending' (completed, or
    finished by a racing request or maintenance run): the in-memory status may be stale
    (sessions keep objects across commits), so the change is made by a conditional UPDATE
    and the quota released only by the caller that made it."""
    if not _leave_pending(db, upload, status, refusal):
        return False
    try:
        usage.release(db, workspace_id=upload.workspace_id, size=upload.size)
        if upload.multipart_id:
            storage.abort_multipart(upload.storage_key, upload.multipart_id)
        storage.delete(upload.storage_key)
        if status in (FAILED, EXPIRED):
            _emit_failed(db, upload)
    except BaseException:
        db.rollback()
        raise
    db.commit()
    return True


def _emit_failed(db: Session, upload: Upload) -> None:
    """upload.failed, in the transaction that failed or expired it: the upload as
    GET /v1/uploads/{id} shows it (no URLs: they sign nothing any more), and its bucket."""
    data = {"upload": {**shown(upload).model_dump(mode="json", exclude_none=True),
                       "bucket": upload.bucket.name}}
    outbox.emit(db, workspace_id=upload.workspace_id, type_=types.UPLOAD_FAILED, data=data)


def _leave_pending(db: Session, upload: Upload, status: str,
                   refusal: AppError | None = None) -> bool:
    """Move the upload from 'pending' to `status` (its row stays locked until the commit);
    False when another transaction moved it first."""
    kept = None if refusal is None else {
        "code": refusal.code, "message": refusal.message, "details": refusal.details}
    changes: dict[str, Any] = {"status": status} if kept is None else {
        "status": status, "refusal": kept}
    moved = db.execute(update(Upload).where(Upload.id == upload.id, Upload.status == PENDING)
                       .values(changes).execution_options(synchronize_session=False))
    if rows_matched(moved) != 1:
        return False
    set_committed_value(upload, "status", status)
    set_committed_value(upload, "refusal", kept)
    return True
