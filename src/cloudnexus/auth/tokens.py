"""API key strings: `cnx_<key id>_<secret>`; only SHA-256 of the secret is stored.

The secret is 256 random bits, so a plain SHA-256 cannot be brute-forced and needs no salt;
the stored hash is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

PREFIX = "cnx"
SECRET_BYTES = 32


@dataclass(frozen=True)
class ParsedKey:
    key_id: uuid.UUID
    secret: str


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def format_key(key_id: uuid.UUID, secret: str) -> str:
    return f"{PREFIX}_{key_id.hex}_{secret}"


def parse_key(value: str) -> ParsedKey | None:
    """The key id and secret of a well-formed key, else None."""
    prefix, _, rest = value.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or len(key_id) != 32 or not secret or len(secret) > 128:
        return None
    try:
        return ParsedKey(uuid.UUID(hex=key_id), secret)
    except ValueError:
        return None


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
