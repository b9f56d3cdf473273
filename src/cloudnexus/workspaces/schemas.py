"""The workspace as the API shows it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from cloudnexus.schemas import Model, Usage

if TYPE_CHECKING:
    from cloudnexus.workspaces.models import Workspace


class Quota(Model):
    max_bytes: int | None
    max_files: int | None


class WorkspaceOut(Model):
    id: uuid.UUID
    name: str
    created_at: datetime
    usage: Usage
    quota: Quota

    @classmethod
    def from_model(cls, workspace: Workspace) -> WorkspaceOut:
        return cls(
            id=workspace.id,
            name=workspace.name,
            created_at=workspace.created_at,
            usage=Usage(bytes=workspace.used_bytes, files=workspace.used_files,
                        derived_bytes=workspace.derived_bytes),
            quota=Quota(max_bytes=workspace.max_bytes, max_files=workspace.max_files),
        )
