"""Maintenance: expire uploads, finish interrupted deletes, reconcile storage with the database.

Run by `cloudnexus maintenance` and by the EventBridge schedule through `main.handler`.
Every step is safe to run again, and `dry_run` only reports what it would do.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cloudnexus.runtime import Runtime

logger = logging.getLogger("cloudnexus.maintenance")
ORPHAN_GRACE = timedelta(hours=1)  # an object this young may be an upload about to complete
SAMPLE = 100


@dataclass
class Report:
    dry_run: bool
    expired_uploads: int = 0
    aborted_multipart: int = 0
    finished_deletes: int = 0
    orphans_removed: int = 0
    missing_marked: int = 0
    previews_removed: int = 0
    idempotency_forgotten: int = 0
    events_forgotten: int = 0
    orphan_keys: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def run(runtime: Runtime, *, dry_run: bool = False,
        orphan_grace: timedelta = ORPHAN_GRACE) -> Report:
    """Every task, in an order where each leaves less for the next."""
    from cloudnexus.db.columns import utcnow

    report, started = Report(dry_run=dry_run), utcnow()
    storage = runtime.storage
    with runtime.session_factory() as db:
        _expire_uploads(db, storage, report, now=started)
        _finish_deletes(db, storage, report)
        _reconcile(db, storage, report, started=started, grace=orphan_grace)
        _reconcile_previews(db, storage, report, started=started, grace=orphan_grace)
        if not dry_run:
            from cloudnexus.idempotency import service as idempotency

            report.idempotency_forgotten = idempotency.forget_expired(db)
            report.events_forgotten = _forget_events(db, runtime, now=started)
    logger.info("maintenance finished", extra={"report": report.as_dict()})
    return report


def _forget_events(db: Any, runtime: Runtime, *, now: datetime) -> int:
    """Events older than EVENT_RETENTION_DAYS go."""
    from cloudnexus.events import outbox

    return outbox.forget_before(db, now - timedelta(days=runtime.settings.event_retention_days))


def run_scheduled(runtime: Runtime) -> dict[str, Any]:
    """The EventBridge entry point."""
    return {"maintenance": "ok", "report": run(runtime).as_dict()}


def _expire_uploads(db: Any, storage: Any, report: Report, *, now: datetime) -> None:
    from sqlalchemy import select

    from cloudnexus.uploads import service as uploads
    from cloudnexus.uploads.models import EXPIRED, PENDING, Upload

    expired = select(Upload).where(Upload.status == PENDING, Upload.expires_at < now)
    for upload in db.scalars(expired.with_for_update(skip_locked=True)).all():
        # finish() commits per upload, which unlocks the rest of the batch: one aborted or
        # completed meanwhile is left alone (finish() moves only a still-pending upload).
        if report.dry_run or uploads.finish(db, storage, upload=upload, status=EXPIRED):
            report.expired_uploads += 1
    db.commit()
    pending = {upload_id for (upload_id,) in db.execute(
        select(Upload.multipart_id).where(Upload.status == PENDING,
                                          Upload.multipart_id.is_not(None)))}
    for prefix in ("private/", "uploads/"):
        for multipart in storage.list_multipart(prefix):
            if multipart.upload_id in pending or (
                    multipart.initiated and multipart.initiated > now - ORPHAN_GRACE):
                continue
            report.aborted_multipart += 1
            if not report.dry_run:
                storage.abort_multipart(multipart.key, multipart.upload_id)


def _finish_deletes(db: Any, storage: Any, report: Report) -> None:
    from sqlalchemy import func, select

    from cloudnexus.files import deletion
    from cloudnexus.files.models import DELETING, File

    if report.dry_run:
        report.finished_deletes = db.scalar(select(func.count()).where(File.status == DELETING))
    else:
        report.finished_deletes = deletion.purge_deleting(db, storage)


def _reconcile(db: Any, storage: Any, report: Report, *, started: datetime,
               grace: timedelta) -> None:
    """Objects with no record go (once older than `grace`); ready records whose object is
    gone are marked `missing` and reported."""
    seen: set[int] = set()
    for batch in _batches(_objects(storage), 500):
        known = _known_ids(db, [file_id for file_id, _ in batch])
        for file_id, info in batch:
            seen.add(file_id.int)
            if file_id not in known and _remove_old(storage, report, info, started=started,
                                                    grace=grace):
                report.orphans_removed += 1
    _mark_missing(db, report, seen=seen, started=started)


def _objects(storage: Any) -> Iterator[tuple[uuid.UUID, Any]]:
    for prefix in ("private/", "uploads/"):
        for info in storage.list_objects(prefix):
            try:
                yield uuid.UUID(info.key.rsplit("/", 1)[-1]), info
            except ValueError:
                logger.warning("object not made by CloudNexus left alone",
                               extra={"key": info.key})


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _known_ids(db: Any, file_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Ids that a file record or an upload in flight accounts for."""
    from sqlalchemy import select

    from cloudnexus.files.models import File
    from cloudnexus.uploads.models import PENDING, Upload

    known = set(db.scalars(select(File.id).where(File.id.in_(file_ids))))
    known |= set(db.scalars(select(Upload.file_id).where(Upload.file_id.in_(file_ids),
                                                         Upload.status == PENDING)))
    return known


def _reconcile_previews(db: Any, storage: Any, report: Report, *, started: datetime,
                        grace: timedelta) -> None:
    """Previews whose file is gone, or that no file counts (a request that stored one and
    crashed before counting it), go once older than `grace`."""
    from sqlalchemy import select

    from cloudnexus.files.models import File
    from cloudnexus.previews.variants import DERIVED_PREFIX

    for batch in _batches(_previews(storage.list_objects(DERIVED_PREFIX)), 500):
        counted = {file_id: previews or {} for file_id, previews in db.execute(
            select(File.id, File.previews).where(File.id.in_({f for f, _, _ in batch})))}
        for file_id, name, info in batch:
            if name not in counted.get(file_id, {}) and _remove_old(
                    storage, report, info, started=started, grace=grace):
                report.previews_removed += 1
        db.rollback()


def _remove_old(storage: Any, report: Report, info: Any, *, started: datetime,
                grace: timedelta) -> bool:
    """Remove an object no record accounts for, once older than `grace`; whether it was
    (or, in a dry run, would be)."""
    if info.last_modified is not None and info.last_modified > started - grace:
        return False
    _sample(report.orphan_keys, info.key)
    if not report.dry_run:
        storage.delete(info.key)
    return True


def _previews(objects: Iterator[Any]) -> Iterator[tuple[uuid.UUID, str, Any]]:
    """(file id, variant name, object) of each derived object: previews/w/b/{file}/{name}."""
    for info in objects:
        parts = info.key.split("/")
        try:
            yield uuid.UUID(parts[3]), parts[4], info
        except (ValueError, IndexError):
            logger.warning("object not made by CloudNexus left alone", extra={"key": info.key})


def _mark_missing(db: Any, report: Report, *, seen: set[int], started: datetime) -> None:
    from sqlalchemy import select, update

    from cloudnexus.files.models import MISSING, READY, File

    query = select(File.id).where(File.status == READY, File.created_at < started)
    after: uuid.UUID | None = None
    while True:
        page = query.order_by(File.id).limit(1000)
        ids = [*db.scalars(page.where(File.id > after) if after else page)]
        if not ids:
            break
        after = ids[-1]
        missing = [file_id for file_id in ids if file_id.int not in seen]
        for file_id in missing:
            report.missing_marked += 1
            _sample(report.missing_files, str(file_id))
            logger.error("file record without its object", extra={"file_id": str(file_id)})
        if missing and not report.dry_run:
            db.execute(update(File).where(File.id.in_(missing), File.status == READY)
                       .values(status=MISSING).execution_options(synchronize_session=False))
            db.commit()


def _sample(items: list[str], item: str) -> None:
    if len(items) < SAMPLE:
        items.append(item)
