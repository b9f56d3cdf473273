"""Who is calling: the key and the workspace every query of the request is scoped to, and the
checks that turn a bearer token and its stored key into one (whichever way the key was read)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cloudnexus.auth.grants import Grant
from cloudnexus.auth.scopes import Scope, grants
from cloudnexus.auth.tokens import ParsedKey, hash_secret, parse_key, secret_matches
from cloudnexus.errors import Unauthorized

LAST_USED_RESOLUTION = timedelta(minutes=1)
# Compared against when the key id is unknown, so that case costs the same hash and compare.
_ABSENT_HASH = hash_secret("absent")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Principal:
    """An API key (`grant` None: its scopes decide), or a delegated token: `key_id` is then
    the signing key's, `subject` the end user, and `grant` what the token allows."""

    key_id: uuid.UUID
    workspace_id: uuid.UUID
    scopes: tuple[str, ...]
    subject: str | None = None
    grant: Grant | None = None

    def can(self, scope: Scope) -> bool:
        return grants(list(self.scopes), scope)

    @property
    def created_by(self) -> str:
        """What files this principal makes record as their maker."""
        return self.subject if self.subject is not None else f"key:{self.key_id}"


class StoredKey(Protocol):
    """What the checks read of a stored key: the ORM's ApiKey, or a row read without it."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def workspace_id(self) -> uuid.UUID: ...
    @property
    def secret_hash(self) -> str: ...
    @property
    def scopes(self) -> list[str]: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def last_used_at(self) -> datetime | None: ...
    @property
    def revoked_at(self) -> datetime | None: ...


def parse_token(token: str | None) -> ParsedKey:
    """The key id and secret of a bearer token; 401 if missing or malformed."""
    if not token:
        raise Unauthorized("Send Authorization: Bearer <api key>", headers=_CHALLENGE)
    parsed = parse_key(token)
    if parsed is None:
        raise Unauthorized("Malformed API key", headers=_CHALLENGE)
    return parsed


def verify(key: StoredKey | None, secret: str, now: datetime) -> tuple[Principal, bool]:
    """The principal of a stored key and a secret, and whether to record this use (at most
    once a minute, so a busy key costs no write per request); 401 if unknown, wrong, revoked
    or expired."""
    if not secret_matches(secret, key.secret_hash if key else _ABSENT_HASH) or key is None:
        raise Unauthorized("Unknown API key", headers=_CHALLENGE)
    if key.revoked_at is not None:
        raise Unauthorized("API key revoked", headers=_CHALLENGE)
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("API key expired", headers=_CHALLENGE)
    record_use = key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION
    return Principal(key_id=key.id, workspace_id=key.workspace_id,
                     scopes=tuple(key.scopes)), record_use
