"""A bucket: a named container inside a workspace with its own rules."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from cloudnexus.db.columns import Base, JsonDocument, new_id, utcnow


class Bucket(Base):
    __tablename__ = "buckets"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(63))
    public: Mapped[bool] = mapped_column(default=False)
    max_file_size: Mapped[int | None] = mapped_column(BigInteger)
    allowed_content_types: Mapped[list[str] | None] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    used_files: Mapped[int] = mapped_column(BigInteger, default=0)
    previews_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    preview_sizes: Mapped[list[str] | None] = mapped_column(JsonDocument)  # None: any size
    # Previews' bytes: counted apart from used_bytes, and not against the quota.
    derived_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
