"""Who is calling: the key and the workspace every query of the request is scoped to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cloudnexus.auth.scopes import Scope, grants


@dataclass(frozen=True)
class Principal:
    key_id: uuid.UUID
    workspace_id: uuid.UUID
    scopes: tuple[str, ...]

    def can(self, scope: Scope) -> bool:
        return grants(list(self.scopes), scope)
