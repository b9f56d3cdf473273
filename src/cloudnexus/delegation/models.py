"""A workspace's signing keys: what its backend signs delegated tokens with."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloudnexus.db.columns import Base, new_id, utcnow

HS256, ES256, EDDSA = "HS256", "ES256", "EdDSA"


class SigningKey(Base):
    """HS256: the secret made by the server (it must be kept to check an HMAC). ES256 and
    EdDSA: the public key in PEM; the private key never reaches the server."""

    __tablename__ = "signing_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    algorithm: Mapped[str] = mapped_column(String(16))
    secret: Mapped[str | None] = mapped_column(String(64))
    public_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
