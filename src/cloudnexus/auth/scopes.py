"""Scopes: `admin` implies the other two."""

from __future__ import annotations

from typing import Literal

Scope = Literal["files:read", "files:write", "admin"]
READ: Scope = "files:read"
WRITE: Scope = "files:write"
ADMIN: Scope = "admin"


def grants(scopes: list[str], needed: Scope) -> bool:
    return needed in scopes or ADMIN in scopes
