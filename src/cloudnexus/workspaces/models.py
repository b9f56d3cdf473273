"""A workspace is a tenant: every other row belongs to exactly one."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from cloudnexus.db.columns import Base, new_id, utcnow


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    max_bytes: Mapped[int | None] = mapped_column(BigInteger)
    max_files: Mapped[int | None] = mapped_column(BigInteger)
    # Kept in the same transaction as the files they count; reserved = uploads in flight.
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    used_files: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_files: Mapped[int] = mapped_column(BigInteger, default=0)
    derived_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
