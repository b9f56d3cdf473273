"""Workspaces: made and given quotas from the command line, read through the API."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloudnexus.db.engine import save_unique
from cloudnexus.errors import NotFound, ValidationFailed
from cloudnexus.workspaces.models import Workspace

UNSET = object()


def create(db: Session, *, name: str, max_bytes: int | None = None,
           max_files: int | None = None) -> Workspace:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("A workspace name has 1 to 100 characters")
    _check_quota(max_bytes, max_files)
    workspace = Workspace(name=name, max_bytes=max_bytes, max_files=max_files)
    db.add(workspace)
    save_unique(db, f"Workspace '{name}' already exists")
    return workspace


def get(db: Session, *, workspace_id: uuid.UUID) -> Workspace:
    workspace = db.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("Workspace not found")
    return workspace


def get_by_name(db: Session, *, name: str) -> Workspace:
    workspace = db.scalar(select(Workspace).where(Workspace.name == name))
    if workspace is None:
        raise NotFound(f"Workspace '{name}' not found")
    return workspace


def list_workspaces(db: Session) -> list[Workspace]:
    return [*db.scalars(select(Workspace).order_by(Workspace.name))]


def set_quota(db: Session, *, workspace: Workspace, max_bytes: int | object | None = UNSET,
              max_files: int | object | None = UNSET) -> Workspace:
    """Change the given limits; None means unlimited, UNSET leaves a limit as it is."""
    # `is not UNSET` leaves int | None, which mypy cannot narrow an `object` sentinel to.
    if max_bytes is not UNSET:
        workspace.max_bytes = max_bytes  # type: ignore[assignment]
    if max_files is not UNSET:
        workspace.max_files = max_files  # type: ignore[assignment]
    _check_quota(workspace.max_bytes, workspace.max_files)
    db.commit()
    return workspace


def _check_quota(max_bytes: int | None, max_files: int | None) -> None:
    if (max_bytes is not None and max_bytes < 0) or (max_files is not None and max_files < 0):
        raise ValidationFailed("Quota limits are zero or more (or unlimited)")
