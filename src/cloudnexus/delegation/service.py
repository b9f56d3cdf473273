"""Signing keys of a workspace (made, listed, deleted) and tokens minted with them."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloudnexus.db.columns import utcnow
from cloudnexus.delegation.models import HS256, SigningKey
from cloudnexus.delegation.schemas import SigningKeyCreate, TokenCreate
from cloudnexus.errors import Conflict, NotFound, ValidationFailed

MAX_SIGNING_KEYS = 10
SECRET_BYTES = 32  # 256 bits: 43 base64url characters


def create(db: Session, *, workspace_id: uuid.UUID, request: SigningKeyCreate) -> SigningKey:
    """A new key: HS256 gets a secret made here (returned once by the route); ES256 and
    EdDSA keep the caller's public key, checked to be one of that algorithm."""
    count = db.scalar(select(func.count()).select_from(SigningKey)
                      .where(SigningKey.workspace_id == workspace_id))
    if (count or 0) >= MAX_SIGNING_KEYS:
        raise Conflict(f"A workspace has at most {MAX_SIGNING_KEYS} signing keys; delete one")
    key = SigningKey(id=uuid.uuid4(), workspace_id=workspace_id, name=request.name,
                     algorithm=request.algorithm)
    if request.algorithm == HS256:
        if request.public_key is not None:
            raise _invalid("public_key", "HS256 takes no public key: the server makes a secret")
        key.secret = secrets.token_urlsafe(SECRET_BYTES)
    else:
        key.public_key = _checked_public_key(request.algorithm, request.public_key)
    db.add(key)
    db.commit()
    return key


def _checked_public_key(algorithm: str, pem: str | None) -> str:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

    if not pem:
        raise _invalid("public_key", f"{algorithm} needs the PEM of its public key")
    try:
        parsed = jwt.get_algorithm_by_name(algorithm).prepare_key(pem)
    except (ValueError, TypeError, jwt.InvalidKeyError):
        raise _invalid("public_key", f"not a PEM public key for {algorithm}") from None
    expected: tuple[type, ...] = (ec.EllipticCurvePublicKey,) if algorithm == "ES256" else (
        ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)
    if not isinstance(parsed, expected) or (
            isinstance(parsed, ec.EllipticCurvePublicKey)
            and not isinstance(parsed.curve, ec.SECP256R1)):
        raise _invalid("public_key", f"not a public key for {algorithm}"
                       + (" (P-256)" if algorithm == "ES256" else ""))
    return pem


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"loc": ["body", field], "message": message,
                                      "type": "value_error"}])


def list_keys(db: Session, *, workspace_id: uuid.UUID) -> list[SigningKey]:
    query = select(SigningKey).where(SigningKey.workspace_id == workspace_id)
    return [*db.scalars(query.order_by(SigningKey.created_at, SigningKey.id))]


def delete(db: Session, *, workspace_id: uuid.UUID, key_id: uuid.UUID) -> None:
    """Every token the key signed stops working at the next request."""
    key = db.get(SigningKey, key_id)
    if key is None or key.workspace_id != workspace_id:
        raise NotFound("Signing key not found")
    db.delete(key)
    db.commit()


def mint(db: Session, *, workspace_id: uuid.UUID, request: TokenCreate) -> tuple[str, datetime]:
    """A token signed with the workspace's newest HS256 key, for callers without a JWT
    library; 409 when it has none."""
    import jwt

    key = db.scalar(select(SigningKey).where(SigningKey.workspace_id == workspace_id,
                                             SigningKey.algorithm == HS256)
                    .order_by(SigningKey.created_at.desc(), SigningKey.id).limit(1))
    if key is None or key.secret is None:
        raise Conflict("Minting needs an HS256 signing key: create one with "
                       "POST /v1/signing-keys")
    issued = utcnow().replace(microsecond=0)
    expires = issued + timedelta(seconds=request.expires_in)
    claims = {"sub": request.sub, "iat": int(issued.timestamp()),
              "exp": int(expires.timestamp()),
              "cnx": request.cnx.model_dump(exclude_none=True)}
    token = jwt.encode(claims, key.secret.encode(), algorithm=HS256, headers={"kid": str(key.id)})
    return token, expires
