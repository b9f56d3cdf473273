"""Delegated tokens checked with PyJWT: the algorithm pinned by the signing key its `kid`
names (no `none`, no HMAC keyed with a public key), exp/nbf/iat with 60 s of leeway, at most
24 h of life, and a `cnx` claim of the exact shape. Imported when a request carries a JWT."""

from __future__ import annotations

import functools
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request

from cloudnexus.auth.lookup import read_key
from cloudnexus.auth.principal import Principal
from cloudnexus.db.reads import Query
from cloudnexus.delegation.models import HS256
from cloudnexus.delegation.schemas import MAX_TOKEN_SECONDS, CnxClaim, Subject
from cloudnexus.errors import Unauthorized

LEEWAY_SECONDS = 60
_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
_SUBJECT = TypeAdapter(Subject)
KEY = Query("""
SELECT id, workspace_id, algorithm, secret, public_key FROM signing_keys WHERE id = :id
""", tables=("signing_keys",))


@dataclass(frozen=True)
class KeyRow:
    id: uuid.UUID
    workspace_id: uuid.UUID
    algorithm: str
    secret: str | None
    public_key: str | None


def refused(why: str) -> Unauthorized:
    return Unauthorized(f"Invalid token: {why}", headers=_CHALLENGE)


@dataclass(frozen=True)
class _Verified:
    """A token that passed `verify` with `key` as it was read then, and what it gave."""

    key: KeyRow
    principal: Principal
    expires: float


# Tokens verified lately. An app's end user sends the same token with each request until it
# expires: PyJWT parses and checks it in pure Python, most of a token request's extra cost
# over an API key's. The signing key is still read on every request, and a token is taken
# from here only with the very row it was verified with, and before its exp (with the
# leeway): a deleted or replaced key stops it at once, as before; nbf and iat, checked
# once, only grow more valid.
_VERIFIED: OrderedDict[str, _Verified] = OrderedDict()
VERIFIED_KEPT = 1024


async def authenticate_token(request: Request, token: str) -> Principal:
    """The principal of a delegated token; 401 for anything but a valid one."""
    verified = _VERIFIED.get(token)
    key_id = verified.key.id if verified is not None else _key_id(token)
    row = await read_key(request, KEY, key_id)
    if row is None:
        raise refused("unknown signing key")
    key = KeyRow(**row)
    if verified is not None and verified.key == key and \
            datetime.now(UTC).timestamp() < verified.expires + LEEWAY_SECONDS:
        return verified.principal
    principal, expires = verify(token, key)
    _VERIFIED[token] = _Verified(key, principal, expires)
    if len(_VERIFIED) > VERIFIED_KEPT:
        _VERIFIED.popitem(last=False)
    return principal


def _key_id(token: str) -> uuid.UUID:
    try:
        header = jwt.get_unverified_header(token)
        return uuid.UUID(str(header["kid"]))
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise refused("its header names no signing key (kid)") from None


def verify(token: str, key: KeyRow) -> tuple[Principal, float]:
    """Check `token` against the signing key its header named; its principal, and its exp."""
    try:
        claims = jwt.decode(
            token, _verifying_key(key.algorithm, key.secret, key.public_key),
            algorithms=[key.algorithm], leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "sub"], "verify_aud": False, "verify_iss": False})
    except jwt.ExpiredSignatureError:
        raise refused("expired") from None
    except jwt.ImmatureSignatureError:
        raise refused("not valid yet (nbf or iat in the future)") from None
    except jwt.InvalidTokenError as exc:
        raise refused(str(exc) or type(exc).__name__) from None
    _check_lifetime(claims, datetime.now(UTC).timestamp())
    try:
        subject = _SUBJECT.validate_python(claims["sub"], strict=True)
        grant = CnxClaim.model_validate(claims["cnx"]).grant()
    except (KeyError, ValidationError):
        raise refused("missing or malformed sub or cnx claim") from None
    return Principal(key_id=key.id, workspace_id=key.workspace_id, scopes=(),
                     subject=subject, grant=grant), float(claims["exp"])


def _check_lifetime(claims: dict[str, Any], now: float) -> None:
    """At most 24 h: from `iat` when given, and from now in any case."""
    expires, issued = claims["exp"], claims.get("iat")
    if expires > now + MAX_TOKEN_SECONDS + LEEWAY_SECONDS:
        raise refused("exp is more than 24 h ahead")
    if isinstance(issued, int | float) and expires - issued > MAX_TOKEN_SECONDS:
        raise refused("exp is more than 24 h after iat")


@functools.lru_cache(maxsize=256)
def _verifying_key(algorithm: str, secret: str | None, public_key: str | None) -> Any:
    """The key PyJWT checks with, parsed once per key (rows are never changed, only deleted,
    and the row is read on every request, so a deleted key stops at once)."""
    if algorithm == HS256:
        if secret is None:
            raise refused("the signing key has no secret")
        return secret.encode()
    return jwt.get_algorithm_by_name(algorithm).prepare_key(public_key or "")
