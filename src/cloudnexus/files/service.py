"""Files of a workspace: record, read, change, copy and delete (storage first, then record)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

import anyio
from sqlalchemy import Select, String, Table, bindparam, func, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from cloudnexus.buckets import service as buckets
from cloudnexus.buckets.models import Bucket
from cloudnexus.buckets.reads import BucketSettings
from cloudnexus.buckets.rules import check_upload
from cloudnexus.db.columns import new_id, row_of, utcnow
from cloudnexus.db.engine import (
    fetch_at_once,
    fetch_at_once_awaited,
    insert_unique,
    rows_matched,
    save_unique,
    send_together,
    writes_take_turns,
)
from cloudnexus.errors import Conflict, NotFound, PreconditionFailed
from cloudnexus.events import outbox, types
from cloudnexus.files.direct import DirectUpload
from cloudnexus.files.models import DELETING, MISSING, READY, File
from cloudnexus.files.paths import check_path, search_key
from cloudnexus.files.schemas import FileOut
from cloudnexus.limits import AT_ONCE_MAX_BYTES
from cloudnexus.previews.checks import check_detected, sniff_body
from cloudnexus.previews.derived import delete_derived
from cloudnexus.previews.sniffing import Sniffed
from cloudnexus.runtime import Runtime, run_blocking
from cloudnexus.storage.base import ObjectNotFound, Storage
from cloudnexus.storage.keys import PUBLIC_PREFIX, object_key
from cloudnexus.workspaces import usage

logger = logging.getLogger("cloudnexus.files")


def new_etag() -> str:
    return uuid.uuid4().hex


def get(db: Session, *, workspace_id: uuid.UUID, file_id: uuid.UUID,
        statuses: tuple[str, ...] = (READY,)) -> File:
    file = db.get(File, file_id)
    if file is None or file.workspace_id != workspace_id or file.status not in statuses:
        raise NotFound("File not found")
    return file


def public_url(storage: Storage, file: File) -> str | None:
    return storage.public_url(file.storage_key) if file.bucket.public else None


def emit(db: Session, type_: str, file: File, **extra: Any) -> None:
    """Write the file's event into the transaction changing it (`public_url` left out: it
    depends on the storage serving it, and is signed for no one)."""
    outbox.emit(db, workspace_id=file.workspace_id, type_=type_, data=_event_data(file, **extra))


def _event_data(file: File, **extra: Any) -> dict[str, Any]:
    return {"file": FileOut.from_model(file, None).model_dump(mode="json"), **extra}


# The file at a path (`bucket_id`, `path` bound when run).
AT_PATH = (File.bucket_id == bindparam("bucket_id"), File.path == bindparam("path"))
# Columns, not the entity: loading a File costs more Python than the statement.
_HOLDER = select(File.id, File.path, File.status).where(*AT_PATH)
_HOLDER_LOCKED = _HOLDER.with_for_update()
_INSERT_FILE = insert(cast(Table, File.__table__))


def ensure_path_free(db: Session, *, bucket: Bucket | BucketSettings, path: str,
                     overwrite: bool) -> uuid.UUID | None:
    """409 when a file holds the path and the caller did not ask to overwrite; else the id
    of the file an overwrite would replace (and keep), if any."""
    existing = db.connection().execute(_HOLDER, {"bucket_id": bucket.id, "path": path}).first()
    if existing is None or existing.status == DELETING:
        return None
    if not overwrite:
        raise _path_taken(bucket, existing)
    replaced: uuid.UUID = existing.id
    return replaced


class _Holder(Protocol):
    """What a conflict names of the file holding a path."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def path(self) -> str: ...
    @property
    def status(self) -> str: ...


def _path_taken(bucket: Bucket | BucketSettings, existing: _Holder) -> Conflict:
    if existing.status == MISSING:
        return Conflict(f"'{existing.path}' is taken in bucket '{bucket.name}' by file "
                        f"{existing.id}, whose bytes are missing; delete it or pass overwrite")
    return Conflict(f"'{existing.path}' already exists in bucket '{bucket.name}'; "
                    "pass overwrite to replace it")


@dataclass(frozen=True)
class NewFile:
    """A file whose bytes are (or are being) stored under `storage_key`, to be recorded: what
    every way of making one (direct upload, presigned upload, copy) gives `record`."""

    bucket: Bucket
    file_id: uuid.UUID
    path: str
    size: int
    content_type: str
    sha256: str | None
    metadata: dict[str, Any]
    tags: list[str]
    storage_key: str
    overwrite: bool
    created_by: str | None
    # What the upload held in quota; without it the quota is checked here.
    reserved_size: int | None = None
    # Returns once the bytes are stored (or raises): given for bytes still on their way.
    bytes_stored: Callable[[], None] | None = None
    # What the first bytes are (previews/sniffing.py); None: not sniffed.
    sniffed: Sniffed | None = None


def record(db: Session, storage: Storage, new: NewFile) -> tuple[File, str | None]:
    """Insert a ready file and count it (flushed, not committed).

    A file already at the path is replaced when `new.overwrite` (409 otherwise): it keeps
    its id, and so its object key and `public_url`; the new bytes are copied onto that key
    once nothing here can refuse them any more, and the key they were stored under is
    returned for the caller to delete after the commit (maintenance removes it if that
    fails). The old version's previews go before the copy (uncounted here).

    The rows come first, the counts last: `new.bytes_stored`, when given, is waited for
    between them, so an upload whose bytes are still on their way writes its rows meanwhile,
    and holds the usage rows, which every upload of the workspace must take, only for the
    moment before its commit (an overwrite's copy, which may be large, comes before them when
    its quota was reserved, so nothing after it can refuse the file).
    """
    if new.bytes_stored is None and new.reserved_size is None and \
            db.get_bind().dialect.name == "postgresql":
        recorded = _recorded_at_once(db, new)
        if recorded is not None:
            return recorded, None
    bucket, path, reserved_size = new.bucket, new.path, new.reserved_size
    _lock_path(db, bucket=bucket, path=path)
    holder = db.connection().execute(_HOLDER_LOCKED, {"bucket_id": bucket.id,
                                                      "path": path}).first()
    existing = None if holder is None else db.get(File, holder.id)  # (its row locked)
    key_to_delete, kept, freed, derived, old_previews = None, None, None, 0, []
    if existing is not None:
        if existing.status != DELETING and not new.overwrite:
            raise _path_taken(bucket, existing)
        if existing.status == DELETING:
            key_to_delete = existing.storage_key
            db.delete(existing)
            db.flush()
        else:
            kept, key_to_delete = existing, new.storage_key
            freed, derived = existing.size, existing.derived_bytes
            old_previews = list(existing.previews or {})
            emit(db, types.FILE_DELETED, existing)
    now = utcnow()
    taken = f"'{path}' was just taken in bucket '{bucket.name}'"
    if kept is None:
        # Written at once, as one prebuilt statement (the object stays out of the session).
        file = _new_file(new, now)
        insert_unique(db, _INSERT_FILE, row_of(file), taken)
    else:
        file = kept
        for name, value in _content(new, now).items():
            setattr(file, name, value)
        save_unique(db, taken, commit=False)
    if new.bytes_stored is not None:
        new.bytes_stored()
    if kept is not None and reserved_size is not None:
        _replace_bytes(storage, source_key=new.storage_key, file=kept, previews=old_previews)
    if freed is not None:
        usage.change(db, workspace_id=bucket.workspace_id, bucket_id=bucket.id, size=-freed,
                     files=-1, check_quota=False)
    if derived:
        usage.change_derived(db, workspace_id=bucket.workspace_id, bucket_id=bucket.id,
                             size=-derived)
    if reserved_size is not None:
        usage.release(db, workspace_id=bucket.workspace_id, size=reserved_size)
    # The change holds the bucket's row, which a visibility change locks to make it: read
    # under it (returned by the change), the visibility is the one this file is recorded under.
    public = usage.change(db, workspace_id=bucket.workspace_id, bucket_id=bucket.id,
                          size=new.size, files=1, check_quota=reserved_size is None)
    if public is None:  # deleted meanwhile
        raise NotFound("Bucket not found")
    set_committed_value(bucket, "public", public)
    if new_object_key(bucket, new.file_id) != new.storage_key:
        raise Conflict("The bucket's visibility changed while the file was being stored; "
                       "send it again")
    if kept is not None and reserved_size is None:
        _replace_bytes(storage, source_key=new.storage_key, file=kept, previews=old_previews)
    emit(db, types.FILE_CREATED, file)
    return file, key_to_delete


def _content(new: NewFile, now: datetime) -> dict[str, Any]:
    """What a file recorded from `new` holds, whether new or kept (an overwrite)."""
    return {
        "size": new.size, "content_type": new.content_type, "sha256": new.sha256,
        "etag": new_etag(), "metadata_": new.metadata, "tags": new.tags, "status": READY,
        "created_by": new.created_by, "updated_at": now, "derived_bytes": 0, "previews": None,
        "detected_content_type": new.sniffed.content_type if new.sniffed else None,
        "image": new.sniffed.image if new.sniffed else None}


def _new_file(new: NewFile, now: datetime) -> File:
    bucket = new.bucket
    return File(id=new.file_id, workspace_id=bucket.workspace_id, bucket_id=bucket.id,
                bucket=bucket, path=new.path, path_search=search_key(new.path),
                storage_key=new.storage_key, created_at=now, **_content(new, now))


def _recorded_at_once(db: Session, new: NewFile) -> File | None:
    """A new file at a free path, written as record() writes it, as one statement
    (_RECORD_NEW, PostgreSQL): in a transaction of its own when the session has none open
    (db.engine.fetch_at_once: one round trip, no BEGIN and no COMMIT), else in the session's
    (db.engine.send_together, with its BEGIN). None, rolled back, when anything is other than
    a new file needs (a file at the path, which fails the row's unique key; no room; the
    bucket gone or its visibility other than its key's): the statement fails whole, and
    record() goes its usual way, which says why, or overwrites."""
    file, values = _record_of(new)
    try:
        if db.in_transaction():  # (a copy's reads): the record joins them
            send_together(db, [(_RECORD_NEW, values)])
        else:
            fetch_at_once(db, _RECORD_NEW, values)
    except IntegrityError:
        db.rollback()
        return None
    return _recorded(db, file, values)


async def _recorded_on_loop(runtime: Runtime, db: Session, new: NewFile) -> File | None:
    """_recorded_at_once() in a transaction of its own, awaited on the event loop
    (db.engine.fetch_at_once_awaited). Once sent it is seen through: a request cancelled
    meanwhile must not delete the bytes of a file the database may have recorded."""
    file, values = _record_of(new)
    try:
        with anyio.CancelScope(shield=True):
            await fetch_at_once_awaited(runtime, db, _RECORD_NEW, values)
    except IntegrityError:
        return None
    return _recorded(db, file, values)


def _record_of(new: NewFile) -> tuple[File, dict[str, Any]]:
    """The new file, and _RECORD_NEW's values for it."""
    bucket, file = new.bucket, _new_file(new, utcnow())
    values = {f"file_{name}": value for name, value in row_of(file).items()}
    values.update(name=f"{bucket.id}/{new.path}", public=new.storage_key.startswith(
        PUBLIC_PREFIX), **usage.counts(
        workspace_id=bucket.workspace_id, bucket_id=bucket.id, size=new.size, files=1,
        check_quota=True), **outbox.event_values(
        workspace_id=file.workspace_id, type_=types.FILE_CREATED, data=_event_data(file)))
    return file, values


def _recorded(db: Session, file: File, values: dict[str, Any]) -> File:
    set_committed_value(file.bucket, "public", values["public"])  # as its count's lock held it
    outbox.written(db)
    return file


def _replace_bytes(storage: Storage, *, source_key: str, file: File,
                   previews: list[str]) -> None:
    """Put the checked new bytes under the kept file's key, its old `previews` (those its row
    counted) gone first: one being made of the old bytes meanwhile is refused when it is
    counted, and one stored but never counted is maintenance's, as for any file."""
    delete_derived(storage, file.storage_key, previews)
    storage.copy(source_key, file.storage_key)
    storage.mark_ready(file.storage_key)


def _lock_path(db: Session, *, bucket: Bucket, path: str) -> None:
    """Writers of one path, one at a time, until their commit (PostgreSQL; SQLite writes one
    transaction at a time anyway).

    Row locks are not enough: of two overwrites, the second waits for the first's lock on the
    old file, finds it deleted, does not see the first's new file (its snapshot is older) and
    inserts beside it: 409 "just taken", for a request that asked to overwrite."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(_PATH_LOCK, {"name": f"{bucket.id}/{path}"})


# Built once: made per upload, its cache key cost more Python than its round trip.
_PATH_LOCK = select(func.pg_advisory_xact_lock(func.hashtextextended(
    bindparam("name", type_=String), 0)))


def _record_new() -> Select[tuple[bool]]:
    """_recorded_at_once()'s statement: the path's lock, then the row (named `file_<column>`),
    the counts (usage.counts()), while the bucket's visibility is `public`, and the event
    (outbox.event_values()), each part run once the one before it returned a row, so that
    their locks are taken in record()'s order. Without the counts' row (no room, no bucket,
    another visibility) the event fails the statement (outbox.emitting_after)."""
    files = cast(Table, File.__table__)
    locked = _PATH_LOCK.cte("path_locked")
    inserted = insert(files).from_select(
        [column.name for column in files.columns], select(*(
            bindparam(f"file_{column.name}", type_=column.type) for column in files.columns))
        .select_from(locked), include_defaults=False).returning(files.c.id).cte("file_inserted")
    counted = usage.counting_after(inserted, Bucket.public == bindparam("public"))
    return select(counted.c.public).add_cte(outbox.emitting_after(counted))


_RECORD_NEW = _record_new()


def delete_quietly(storage: Storage, key: str | None) -> None:
    """Best effort after a commit: an object (and any preview made of it) left behind has
    no record, so maintenance removes it."""
    if key is None:
        return
    try:
        storage.delete(key)
        delete_derived(storage, key)
    except Exception:  # noqa: BLE001 - reconciled later; the request already succeeded
        logger.warning("could not delete an object without a record; maintenance will",
                       extra={"key": key})


def as_model(settings: BucketSettings) -> Bucket:
    """The bucket as read through the read API, as a model out of any session: what a new
    file's record needs of it (its id, workspace, name and visibility, which `record` reads
    again under its lock)."""
    return Bucket(id=settings.id, workspace_id=settings.workspace_id, name=settings.name,
                  public=settings.public, max_file_size=settings.max_file_size,
                  allowed_content_types=settings.allowed_content_types)


def new_object_key(bucket: Bucket | BucketSettings, file_id: uuid.UUID) -> str:
    return object_key(public=bucket.public, workspace_id=bucket.workspace_id,
                      bucket_id=bucket.id, file_id=file_id)


def update(db: Session, *, file: File, changes: dict[str, Any], if_match: str | None) -> File:
    """Change path, metadata or tags; 412 when If-Match names another etag."""
    if if_match is not None and not etag_matches(if_match, file.etag):
        raise PreconditionFailed()
    if changes.get("path") is not None and changes["path"] != file.path:
        ensure_path_free(db, bucket=file.bucket, path=check_path(changes["path"]),
                         overwrite=False)
    values = {("metadata_" if key == "metadata" else key): value
              for key, value in changes.items() if value is not None}
    if "path" in values:
        values["path_search"] = search_key(values["path"])
    if not values:
        return file
    # Compare-and-set on the etag, so of two concurrent updates with one If-Match one wins.
    result = db.execute(
        sql_update(File).where(File.id == file.id, File.etag == file.etag)
        .values(**values, etag=new_etag(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if rows_matched(result) != 1:
        db.rollback()
        raise PreconditionFailed("The file changed meanwhile; fetch it and retry")
    previous_path = file.path
    db.refresh(file)
    moved = {"previous_path": previous_path} if file.path != previous_path else {}
    emit(db, types.FILE_UPDATED, file, **moved)
    save_unique(db, "That path was just taken")
    return file


def etag_matches(header: str, etag: str) -> bool:
    candidates = [item.strip().removeprefix("W/").strip('"') for item in header.split(",")]
    return "*" in candidates or etag in candidates


def copy(db: Session, storage: Storage, *, file: File, target: Bucket, path: str,
         overwrite: bool, created_by: str) -> File:
    """Server-side copy into `target` (any bucket of the same workspace)."""
    check_path(path)
    check_upload(size=file.size, content_type=file.content_type,
                 max_file_size=target.max_file_size,
                 allowed_content_types=target.allowed_content_types)
    ensure_path_free(db, bucket=target, path=path, overwrite=overwrite)
    file_id = new_id()
    key = new_object_key(target, file_id)
    try:
        storage.copy(file.storage_key, key)
    except ObjectNotFound:  # deleted meanwhile
        raise NotFound("File not found") from None
    sniffed = Sniffed(file.detected_content_type, file.image)
    check_detected(sniffed, target.allowed_content_types)
    return record_stored(db, storage, NewFile(
        bucket=target, file_id=file_id, path=path, size=file.size,
        content_type=file.content_type, sha256=file.sha256, metadata=dict(file.metadata_),
        tags=list(file.tags), storage_key=key, overwrite=overwrite, created_by=created_by,
        sniffed=sniffed))


def record_stored(db: Session, storage: Storage, new: NewFile) -> File:
    """Record bytes just stored under `new.storage_key` and commit; if that fails, the bytes
    go too (no object without a record), and the bytes no record holds go after."""
    try:
        file, leftover_key = record(db, storage, new)
        db.commit()
    except Exception:
        db.rollback()
        storage.delete(new.storage_key)
        raise
    delete_quietly(storage, leftover_key)
    return file


async def create_direct(runtime: Runtime, db: Session, storage: Storage, *,
                        upload: DirectUpload) -> File:
    """Store the bytes of a direct upload, then its record; no record, no object.

    A body of at most AT_ONCE_MAX_BYTES bound for the local disk, on PostgreSQL, is stored
    and recorded on the event loop: its file is a few system calls and its record one
    statement awaited there, each less than a trip to a worker thread and back. Anything
    else goes to a worker thread (a large or forwarded body, S3, SQLite), as does the record
    of anything but a new file at a free path (an overwrite, or a refusal to explain).

    A part sent on as it arrived (after the same checks) is still on its way: its rows are
    written meanwhile (see record). The path and the quota are checked once, by `record`, in
    the transaction that takes them: a rejected upload's bytes are deleted again, which for
    a file of a few MiB costs less than checking twice costs every accepted one."""
    if upload.forward is not None:
        return await run_blocking(runtime, _create_forwarded, db, storage, upload)
    if storage.remote or upload.size > AT_ONCE_MAX_BYTES or writes_take_turns(db) or \
            db.in_transaction():
        return await run_blocking(runtime, lambda: record_stored(
            db, storage, _stored_whole(storage, upload)))
    new = _stored_whole(storage, upload)
    try:
        file = await _recorded_on_loop(runtime, db, new)
    except Exception:
        storage.delete(new.storage_key)  # (a small local file: on the loop too)
        raise
    if file is None:
        return await run_blocking(runtime, record_stored, db, storage, new)
    if runtime.settings.events_queue_url is not None:
        # The session's commit (nothing of its own to commit) sends the dispatcher's nudge
        # that the event asks for (outbox.written), through SQS: not on the loop.
        await run_blocking(runtime, db.commit)
    return file


def _stored_whole(storage: Storage, upload: DirectUpload) -> NewFile:
    """A body that has arrived whole, checked against its bucket as read before it
    (files/dependencies.py) and stored: the file to record. A bucket deleted since is 404
    when counted, one whose visibility changed since 409 (record)."""
    bucket = as_model(_granted_bucket(upload))
    key = new_object_key(bucket, upload.file_id)
    sniffed = sniff_body(upload.body)
    check_detected(sniffed, bucket.allowed_content_types)
    check_upload(size=upload.size, content_type=upload.content_type,
                 max_file_size=bucket.max_file_size,
                 allowed_content_types=bucket.allowed_content_types)
    storage.put(key, upload.body, content_type=upload.content_type, sha256=upload.sha256)
    return _new_of(upload, bucket, key, sniffed)


def _create_forwarded(db: Session, storage: Storage, upload: DirectUpload) -> File:
    """A direct upload whose part was sent on to storage as it arrived (forwarding.py)."""
    forward = upload.forward
    try:
        return _store_forwarded(db, storage, upload)
    except Exception:
        # Refused before its bytes had arrived: record_stored's delete may have come first.
        if forward is not None and forward.wait():
            delete_quietly(storage, forward.key)
        raise


def _store_forwarded(db: Session, storage: Storage, upload: DirectUpload) -> File:
    # It may have taken long: its bucket is read again (404 when deleted meanwhile), and one
    # whose visibility changed meanwhile (as an empty one may) has the file stored again
    # under its new prefix, below.
    settings = _granted_bucket(upload)
    bucket = buckets.get(db, workspace_id=settings.workspace_id, name=settings.name)
    takes_turns = writes_take_turns(db)
    if takes_turns:
        # One writer at a time: its turn is not spent waiting on storage. The bucket's
        # read ends here, and the rows are written once the bytes are stored.
        db.commit()
    key, forward = new_object_key(bucket, upload.file_id), upload.forward
    if forward is not None and forward.key != key:
        # The bucket's visibility changed (it may while empty) since the part went on under
        # the other prefix: the file is stored again under this one, the part deleted.
        if forward.wait():
            delete_quietly(storage, forward.key)
        forward = None
    sniffed = sniff_body(upload.body)  # the forward reads the spool by offset, not position
    check_detected(sniffed, bucket.allowed_content_types)
    if forward is None:
        check_upload(size=upload.size, content_type=upload.content_type,
                     max_file_size=bucket.max_file_size,
                     allowed_content_types=bucket.allowed_content_types)

    def bytes_stored() -> None:
        if forward is None or not forward.wait():
            storage.put(key, upload.body, content_type=upload.content_type,
                        sha256=upload.sha256)

    # Stored before the rows unless the part is still on its way (and rows may be written
    # meanwhile: not on SQLite, whose one writer would wait on storage).
    stored_first = takes_turns or forward is None
    if stored_first:
        bytes_stored()
    return record_stored(db, storage, _new_of(
        upload, bucket, key, sniffed, bytes_stored=None if stored_first else bytes_stored))


def _granted_bucket(upload: DirectUpload) -> BucketSettings:
    """The upload's bucket as read before its body, once its token's grant allows the file."""
    if upload.grant is not None:
        upload.grant.check_new_file(path=upload.path, size=upload.size,
                                    content_type=upload.content_type)
    if upload.bucket is None:
        raise RuntimeError("a direct upload's dependency reads its bucket")
    return upload.bucket


def _new_of(upload: DirectUpload, bucket: Bucket, key: str, sniffed: Sniffed, *,
            bytes_stored: Callable[[], None] | None = None) -> NewFile:
    return NewFile(
        bucket=bucket, file_id=upload.file_id, path=upload.path, size=upload.size,
        content_type=upload.content_type, sha256=upload.sha256, metadata=upload.metadata,
        tags=upload.tags, storage_key=key, overwrite=upload.overwrite,
        created_by=upload.created_by, sniffed=sniffed, bytes_stored=bytes_stored)
