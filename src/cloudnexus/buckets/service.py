"""Buckets of a workspace: every query is scoped by the workspace id."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloudnexus.buckets.models import Bucket
from cloudnexus.buckets.schemas import BucketOut, is_bucket_name
from cloudnexus.db.engine import save_unique
from cloudnexus.errors import Conflict, ValidationFailed, bucket_not_found
from cloudnexus.events import outbox, types
from cloudnexus.storage.base import Storage
from cloudnexus.uploads.models import ABORTED
from cloudnexus.workspaces import usage
from cloudnexus.workspaces.models import Workspace

PUBLIC_BUCKETS_OFF = ("This deployment serves no public files (PUBLIC_BUCKETS=false: the "
                      "template's PublicUploads parameter is off), so a bucket cannot be public")


def check_visibility(public: bool | None, *, public_buckets: bool) -> None:
    """422 for a public bucket where the storage would refuse its public_url."""
    if public and not public_buckets:
        raise ValidationFailed(PUBLIC_BUCKETS_OFF, details=[
            {"loc": ["body", "public"], "message": PUBLIC_BUCKETS_OFF, "type": "value_error"}])


def create(db: Session, *, workspace_id: uuid.UUID, name: str, public: bool = False,
           max_file_size: int | None = None, allowed_content_types: list[str] | None = None,
           previews_enabled: bool = True, preview_sizes: list[str] | None = None,
           public_buckets: bool = True) -> Bucket:
    check_visibility(public, public_buckets=public_buckets)
    bucket = Bucket(workspace_id=workspace_id, name=name, public=public,
                    max_file_size=max_file_size, allowed_content_types=allowed_content_types,
                    previews_enabled=previews_enabled, preview_sizes=preview_sizes)
    db.add(bucket)
    save_unique(db, f"Bucket '{name}' already exists", commit=False)
    emit(db, types.BUCKET_CREATED, bucket)
    db.commit()
    return bucket


def emit(db: Session, type_: str, bucket: Bucket) -> None:
    """Write the bucket's event into the transaction changing it."""
    outbox.emit(db, workspace_id=bucket.workspace_id, type_=type_,
                data={"bucket": BucketOut.from_model(bucket).model_dump(mode="json")})


def get(db: Session, *, workspace_id: uuid.UUID, name: str) -> Bucket:
    if not is_bucket_name(name):
        raise bucket_not_found(name)
    bucket = db.scalar(
        select(Bucket).where(Bucket.workspace_id == workspace_id, Bucket.name == name)
    )
    if bucket is None:
        raise bucket_not_found(name)
    return bucket


def list_buckets(db: Session, *, workspace_id: uuid.UUID) -> list[Bucket]:
    query = select(Bucket).where(Bucket.workspace_id == workspace_id).order_by(Bucket.name)
    return [*db.scalars(query)]


def update(db: Session, *, bucket: Bucket, changes: dict[str, Any],
           public_buckets: bool = True) -> Bucket:
    """Apply the given fields; visibility changes only while the bucket is empty, with no
    upload in flight either (its object key, made when it began, has the old prefix)."""
    from cloudnexus.uploads import service as uploads

    check_visibility(changes.get("public"), public_buckets=public_buckets)
    for switch in ("public", "previews_enabled"):  # null: unchanged (they have no "none")
        if switch in changes and changes[switch] is None:
            changes.pop(switch)
    if changes.get("public", bucket.public) != bucket.public:
        db.refresh(bucket, with_for_update=True)  # uploads starting meanwhile wait (see there)
        if changes["public"] != bucket.public and (
                bucket.used_files or uploads.pending_in(db, bucket=bucket)):
            raise Conflict("A bucket's visibility can change only while it is empty, with no "
                           "upload in flight")
    for field, value in changes.items():
        setattr(bucket, field, value)
    db.flush()
    emit(db, types.BUCKET_UPDATED, bucket)
    db.commit()
    return bucket


def delete(db: Session, storage: Storage, *, bucket: Bucket, force: bool = False) -> None:
    """Delete an empty bucket; with `force`, its files and uploads in flight go first."""
    from cloudnexus.files import deletion
    from cloudnexus.uploads import service as uploads

    pending = uploads.pending_in(db, bucket=bucket)
    if (bucket.used_files or pending) and not force:
        raise Conflict("The bucket holds files or uploads in flight; delete them or pass "
                       "force=true")
    for upload in pending:
        uploads.finish(db, storage, upload=upload, status=ABORTED)
    deletion.delete_many(db, storage, bucket=bucket)
    deletion.purge_deleting(db, storage, bucket_id=bucket.id)
    # The rows last, in the order the others take them: the bucket's pending uploads (a
    # complete, an abort or an expiry holds its upload's row before the usage rows), then the
    # workspace's and the bucket's. An upload starting from now on waits, then finds no
    # bucket; one started meanwhile has no bytes worth keeping yet: its quota is given back
    # here, its row goes with the bucket's, maintenance clears its part.
    uploads.pending_in(db, bucket=bucket, lock=True)
    db.execute(select(Workspace.id).where(Workspace.id == bucket.workspace_id)
               .with_for_update())
    db.refresh(bucket, with_for_update=True)
    if bucket.used_files:
        raise Conflict("Files were added to the bucket while it was being deleted; delete it "
                       "again")
    for upload in uploads.pending_in(db, bucket=bucket):
        usage.release(db, workspace_id=upload.workspace_id, size=upload.size)
    emit(db, types.BUCKET_DELETED, bucket)
    db.delete(bucket)
    db.commit()
