"""Deleting files: mark (hidden and uncounted), delete the objects, then the records.

A crash anywhere leaves files in `deleting`: a retry of the delete or maintenance finishes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from cloudnexus.buckets.models import Bucket
from cloudnexus.db.engine import rows_matched
from cloudnexus.events.types import FILE_DELETED
from cloudnexus.files import service
from cloudnexus.files.models import DELETING, MISSING, READY, File
from cloudnexus.previews.derived import delete_derived
from cloudnexus.storage.base import Storage
from cloudnexus.workspaces import usage


def delete(db: Session, storage: Storage, *, file: File) -> None:
    """Mark, delete the object, then the record: a retry or maintenance finishes a crash."""
    purge(db, storage, mark_deleting(db, [file]))


def delete_many(db: Session, storage: Storage, *, bucket: Bucket,
                ids: Sequence[uuid.UUID] | None = None, prefix: str | None = None) -> int:
    """Delete the bucket's files with these ids, or under this prefix, or all (those ready,
    and those maintenance found without their bytes)."""
    query = select(File).where(File.bucket_id == bucket.id, File.status.in_((READY, MISSING)))
    if ids is not None:
        query = query.where(File.id.in_(ids))
    if prefix is not None:
        from cloudnexus.files.conditions import starts_with

        query = query.where(starts_with(prefix))
    deleted = 0
    while batch := [*db.scalars(query.order_by(File.id).limit(1000))]:
        deleted += purge(db, storage, mark_deleting(db, batch))
    return deleted


def mark_deleting(db: Session, files: Sequence[File]) -> list[File]:
    """Hide the files and uncount them, in one transaction; returns those marked (or
    already marked by a delete that did not finish).

    Every file's row first, the usage rows last, as an upload's record takes them: marking
    one file and counting it before the next, a delete held the workspace's row while it
    waited for a file an overwrite held, which waited for the workspace's row."""
    marked, newly = [], []
    for file in files:
        if file.status == DELETING:
            marked.append(file)
            continue
        result = db.execute(sql_update(File).where(File.id == file.id, File.status != DELETING)
                            .values(status=DELETING)
                            .execution_options(synchronize_session=False))
        if rows_matched(result) == 1:
            newly.append(file)
            service.emit(db, FILE_DELETED, file)
    # Read after the rows are held: a preview counted meanwhile is in these sums.
    derived = {file_id: size for file_id, size in db.execute(
        select(File.id, File.derived_bytes).where(File.id.in_([f.id for f in newly])))}
    for workspace_id, bucket_id in dict.fromkeys((f.workspace_id, f.bucket_id) for f in newly):
        theirs = [f for f in newly if (f.workspace_id, f.bucket_id) == (workspace_id, bucket_id)]
        usage.change(db, workspace_id=workspace_id, bucket_id=bucket_id,
                     size=-sum(f.size for f in theirs), files=-len(theirs), check_quota=False)
        if derived_bytes := sum(derived.get(f.id) or 0 for f in theirs):
            usage.change_derived(db, workspace_id=workspace_id, bucket_id=bucket_id,
                                 size=-derived_bytes)
    db.commit()
    return marked + newly


def purge_deleting(db: Session, storage: Storage, *, bucket_id: uuid.UUID | None = None) -> int:
    """Finish the deletes a crash left in `deleting` (in one bucket, or everywhere)."""
    query = select(File).where(File.status == DELETING)
    if bucket_id is not None:
        query = query.where(File.bucket_id == bucket_id)
    return purge(db, storage, [*db.scalars(query)])


def purge(db: Session, storage: Storage, files: Sequence[File]) -> int:
    """Delete the objects of files marked `deleting` (and their previews), then their
    records."""
    if not files:
        return 0
    # Read now: no preview is added to a file once it is marked.
    previews = {file_id: names for file_id, names in db.execute(
        select(File.id, File.previews).where(File.id.in_([file.id for file in files])))}
    for file in files:
        storage.delete(file.storage_key)
        if previews.get(file.id):
            delete_derived(storage, file.storage_key, previews[file.id])
    db.execute(sql_delete(File).where(File.id.in_([file.id for file in files]),
                                      File.status == DELETING))
    db.commit()
    return len(files)
