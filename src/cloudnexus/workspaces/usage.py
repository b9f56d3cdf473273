"""Usage and quota, kept exactly: every change is one conditional UPDATE in the caller's
transaction, so concurrent requests can never take a workspace past its quota.

The statements are built once, with bound parameters: an ORM UPDATE built per call costs
about 1 ms of Python per statement, and the usage counts are the last step of every upload
before its commit."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import (
    CTE,
    BigInteger,
    ColumnElement,
    Table,
    Update,
    bindparam,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningUpdate

from cloudnexus.buckets.models import Bucket
from cloudnexus.db.columns import utcnow
from cloudnexus.db.engine import rows_matched
from cloudnexus.errors import QuotaExceeded
from cloudnexus.workspaces.models import Workspace

workspaces, buckets = cast(Table, Workspace.__table__), cast(Table, Bucket.__table__)
W, B = workspaces.c, buckets.c
_bytes, _files = bindparam("bytes", type_=BigInteger), bindparam("files", type_=BigInteger)
# What must still fit under the quota; 0 when nothing is added (or no check is asked for).
_room_bytes = bindparam("room_bytes", type_=BigInteger)
_room_files = bindparam("room_files", type_=BigInteger)

_FITS = (
    or_(_room_bytes <= 0, W.max_bytes.is_(None),
        W.used_bytes + W.reserved_bytes + _room_bytes <= W.max_bytes),
    or_(_room_files <= 0, W.max_files.is_(None),
        W.used_files + W.reserved_files + _room_files <= W.max_files),
)
_CHANGE_RESERVED = update(workspaces).where(W.id == bindparam("workspace_id"), *_FITS).values(
    reserved_bytes=W.reserved_bytes + _bytes, reserved_files=W.reserved_files + _files)
_CHANGE_WORKSPACE = update(workspaces).where(
    W.id == bindparam("workspace_id"), *_FITS).values(
    used_bytes=W.used_bytes + _bytes, used_files=W.used_files + _files)
# Returns the bucket's visibility as this change's lock holds it (files/service.record).
# (updated_at bound here, not left to the column's onupdate: counting_after's part of a
# statement sent with psycopg alone sets it too.)
_CHANGE_BUCKET = update(buckets).where(B.id == bindparam("bucket_id")).values(
    used_bytes=B.used_bytes + _bytes, used_files=B.used_files + _files,
    updated_at=bindparam("changed_at", type_=B.updated_at.type)).returning(B.public)
_CHANGE_WORKSPACE_DERIVED = update(workspaces).where(W.id == bindparam("workspace_id")).values(
    derived_bytes=W.derived_bytes + _bytes)
_CHANGE_BUCKET_DERIVED = update(buckets).where(B.id == bindparam("bucket_id")).values(
    derived_bytes=B.derived_bytes + _bytes)


def _updated(db: Session, statement: Update, **params: object) -> bool:
    result = db.execute(statement, params)
    return rows_matched(result) == 1


def reserve(db: Session, *, workspace_id: uuid.UUID, size: int) -> None:
    """Hold room for an upload in flight; 403 quota_exceeded when there is none."""
    if not _updated(db, _CHANGE_RESERVED, **reservation(workspace_id=workspace_id, size=size)):
        raise quota_exceeded(db, workspace_id=workspace_id, size=size, files=1)


def reserving(*columns: ColumnElement[Any]) -> ReturningUpdate[Any]:
    """reserve()'s statement, returning `columns` (read under the workspace's row lock it
    takes) when there is room, and no row when there is none; run with reservation()'s
    parameters and the columns' own."""
    return _CHANGE_RESERVED.returning(*columns)


def reservation(*, workspace_id: uuid.UUID, size: int) -> dict[str, object]:
    """The parameters that hold room for one upload of `size` bytes."""
    return {"workspace_id": workspace_id, "bytes": size, "files": 1, "room_bytes": size,
            "room_files": 1}


def release(db: Session, *, workspace_id: uuid.UUID, size: int) -> None:
    """Give back what reserve() held (upload aborted, expired or completed)."""
    _updated(db, _CHANGE_RESERVED, workspace_id=workspace_id, bytes=-size, files=-1,
             room_bytes=0, room_files=0)


def change(db: Session, *, workspace_id: uuid.UUID, bucket_id: uuid.UUID, size: int,
           files: int, check_quota: bool) -> bool | None:
    """Add (or with negatives remove) stored bytes and files to the workspace and bucket.
    Returns whether the bucket is public, read under the lock this change holds on its row
    (None: no such bucket), which saves a caller that needs it a statement."""
    counts, bucket_counts = counting(workspace_id=workspace_id, bucket_id=bucket_id, size=size,
                                     files=files, check_quota=check_quota)
    if not _updated(db, _CHANGE_WORKSPACE, **counts):
        raise quota_exceeded(db, workspace_id=workspace_id, size=counts["room_bytes"],
                             files=counts["room_files"])
    public: bool | None = db.execute(_CHANGE_BUCKET, bucket_counts).scalar_one_or_none()
    return public


def counting(*, workspace_id: uuid.UUID, bucket_id: uuid.UUID, size: int, files: int,
             check_quota: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters of change()'s two statements, apart: the workspace's (which matches no
    row when the quota has no room), then the bucket's. (Through SQLAlchemy each must have
    its own: a parameter named as a column of the other's table would be set there too.)"""
    room_bytes, room_files = (size, files) if check_quota else (0, 0)
    return ({"workspace_id": workspace_id, "bytes": size, "files": files,
             "room_bytes": room_bytes, "room_files": room_files},
            {"bucket_id": bucket_id, "bytes": size, "files": files, "changed_at": utcnow()})


def counting_after(earlier: CTE, *bucket_while: ColumnElement[bool]) -> CTE:
    """change()'s two statements as parts of one statement: the workspace's runs once
    `earlier` returned a row, the bucket's once the workspace's did (and while its row meets
    `bucket_while`), so that their rows are locked in change()'s order. The bucket's part
    returns its visibility (no row: no room, or no such bucket); the parameters are
    counts()'."""
    workspace = _CHANGE_WORKSPACE.where(select(earlier).exists()).returning(W.id) \
        .cte("counted_workspace")
    return _CHANGE_BUCKET.where(select(workspace).exists(), *bucket_while).cte("counted_bucket")


def counts(*, workspace_id: uuid.UUID, bucket_id: uuid.UUID, size: int, files: int,
           check_quota: bool) -> dict[str, Any]:
    """The parameters of counting_after()'s parts."""
    workspace, bucket = counting(workspace_id=workspace_id, bucket_id=bucket_id, size=size,
                                 files=files, check_quota=check_quota)
    return {**workspace, **bucket}


def change_derived(db: Session, *, workspace_id: uuid.UUID, bucket_id: uuid.UUID,
                   size: int) -> None:
    """Add (or remove) previews' bytes: counted apart, never against the quota."""
    db.execute(_CHANGE_WORKSPACE_DERIVED, {"workspace_id": workspace_id, "bytes": size})
    db.execute(_CHANGE_BUCKET_DERIVED, {"bucket_id": bucket_id, "bytes": size})


def quota_exceeded(db: Session, *, workspace_id: uuid.UUID, size: int,
                   files: int) -> QuotaExceeded:
    """The error naming each quota that `size` bytes and `files` files more would pass: its
    limit, what is in use (uploads in flight included) and what the request needed."""
    row = db.execute(select(W.used_bytes + W.reserved_bytes, W.max_bytes,
                            W.used_files + W.reserved_files, W.max_files)
                     .where(W.id == workspace_id)).one()
    used_bytes, max_bytes, used_files, max_files = row
    details = [
        {"quota": quota, "limit": limit, "used": used, "requested": requested}
        for quota, limit, used, requested in (("max_bytes", max_bytes, used_bytes, size),
                                              ("max_files", max_files, used_files, files))
        if limit is not None and requested > 0 and used + requested > limit
    ]
    names = {"max_bytes": "byte", "max_files": "file"}
    message = "; ".join(
        f"the workspace's {names[d['quota']]} quota would be exceeded: {d['used']} of "
        f"{d['limit']} in use, this needs {d['requested']} more" for d in details)
    return QuotaExceeded(message[:1].upper() + message[1:] if message else None, details=details)
