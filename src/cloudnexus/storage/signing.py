"""HMAC-signed URLs for the local backend: what a URL permits, and its signature."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import quote, urlencode

STORAGE_PATH = "/storage"
PUBLIC_PATH = "/storage/public"
KEY_BYTES = 32
_VERSION = "cloudnexus-url-v1"


class SignatureError(Exception):
    """The URL is unsigned, tampered with, or expired; the message says which."""


@dataclass(frozen=True)
class Grant:
    """Everything a signed URL binds; the optional fields are empty when they do not apply."""

    method: str
    key: str
    expires: int  # unix time
    content_type: str | None = None
    content_length: int | None = None
    sha256: str | None = None  # lowercase hex
    upload_id: str | None = None
    part_number: int | None = None
    disposition: str | None = None  # the Content-Disposition a GET answers with

    # The fields are read one by one, not with dataclasses.asdict, which deep-copies each
    # value: on every URL signed or checked, that took longer than the HMAC.

    def query(self) -> dict[str, str]:
        """The query parameters that carry the grant (method and key are in the request)."""
        values = ((name, getattr(self, name)) for name in _QUERY_FIELDS)
        return {name: str(value) for name, value in values if value is not None}

    def message(self) -> bytes:
        """The canonical bytes signed: a JSON array, so no field can run into the next."""
        values = [_VERSION, *(getattr(self, name) for name in _FIELDS)]
        return json.dumps(values, separators=(",", ":")).encode()


_FIELDS = tuple(f.name for f in fields(Grant))
_QUERY_FIELDS = tuple(name for name in _FIELDS if name not in {"method", "key"})


class Signer:
    """Signs and checks grants with the install's secret key."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def signature(self, grant: Grant) -> str:
        return hmac.new(self._secret, grant.message(), hashlib.sha256).hexdigest()

    def url(self, base_url: str, grant: Grant) -> str:
        """`{base}/storage/{key}?expires=...&...&signature=...`."""
        query = urlencode({**grant.query(), "signature": self.signature(grant)})
        return f"{base_url}{STORAGE_PATH}/{quote(grant.key, safe='/')}?{query}"

    def verify(self, grant: Grant, signature: str | None, *, now: float | None = None) -> None:
        """Raise SignatureError unless `signature` signs `grant` and the grant is unexpired."""
        if not signature:
            raise SignatureError("The URL is not signed")
        if not hmac.compare_digest(self.signature(grant).encode(), signature.encode()):
            raise SignatureError("The signature does not match this request")
        if (time.time() if now is None else now) > grant.expires:
            raise SignatureError("The URL has expired")


def expiry(expires_in: int) -> int:
    """The unix time `expires_in` seconds from now."""
    if expires_in < 1:
        raise ValueError("expires_in must be at least 1 second")
    return int(time.time()) + expires_in


def grant_from_query(method: str, key: str, query: Mapping[str, object]) -> Grant:
    """The grant a request claims: its method and key plus the grant's query parameters."""
    values = {name: query.get(name) for name in _QUERY_FIELDS}
    if values["expires"] is None:
        raise SignatureError("The URL is not signed")
    # The values come typed by the route's query model (SignedQuery); Mapping[str, object] says not.
    return Grant(method=method, key=key, **values)  # type: ignore[arg-type]


def load_or_create_key(path: Path) -> bytes:
    """The install's secret: read from `path`, or made once (0600) when it does not exist."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(secrets.token_bytes(KEY_BYTES))
        with contextlib.suppress(FileExistsError):  # a concurrent creator's key wins
            os.link(temp, path)  # atomic, and never overwrites
    finally:
        temp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    secret = path.read_bytes()
    if len(secret) != KEY_BYTES:
        raise ValueError(f"{path}: a signing key must be {KEY_BYTES} bytes, found {len(secret)}")
    return secret
