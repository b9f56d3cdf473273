"""Usage and quota, kept exactly: every change is one conditional UPDATE in the caller's
transaction, so concurrent requests can never take a workspace past its quota."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from cloudnexus.buckets.models import Bucket
from cloudnexus.errors import QuotaExceeded
from cloudnexus.workspaces.models import Workspace

W = Workspace


def _fits(extra_bytes: int, extra_files: int) -> list:  # type: ignore[type-arg]
    """Conditions under which the workspace can take this much more."""
    conditions = []
    if extra_bytes > 0:
        conditions.append(or_(W.max_bytes.is_(None),
                              W.used_bytes + W.reserved_bytes + extra_bytes <= W.max_bytes))
    if extra_files > 0:
        conditions.append(or_(W.max_files.is_(None),
                              W.used_files + W.reserved_files + extra_files <= W.max_files))
    return conditions


def reserve(db: Session, *, workspace_id: uuid.UUID, size: int) -> None:
    """Hold room for an upload in flight; 403 quota_exceeded when there is none."""
    result = db.execute(
        update(W).where(W.id == workspace_id, *_fits(size, 1))
        .values(reserved_bytes=W.reserved_bytes + size, reserved_files=W.reserved_files + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise QuotaExceeded()


def release(db: Session, *, workspace_id: uuid.UUID, size: int) -> None:
    """Give back what reserve() held (upload aborted, expired or completed)."""
    db.execute(
        update(W).where(W.id == workspace_id)
        .values(reserved_bytes=W.reserved_bytes - size, reserved_files=W.reserved_files - 1)
        .execution_options(synchronize_session=False)
    )


def change(db: Session, *, workspace_id: uuid.UUID, bucket_id: uuid.UUID, size: int,
           files: int, check_quota: bool) -> None:
    """Add (or with negatives remove) stored bytes and files to the workspace and bucket."""
    conditions = _fits(size, files) if check_quota else []
    result = db.execute(
        update(W).where(W.id == workspace_id, *conditions)
        .values(used_bytes=W.used_bytes + size, used_files=W.used_files + files)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise QuotaExceeded()
    db.execute(
        update(Bucket).where(Bucket.id == bucket_id)
        .values(used_bytes=Bucket.used_bytes + size, used_files=Bucket.used_files + files)
        .execution_options(synchronize_session=False)
    )
