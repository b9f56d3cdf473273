"""An upload in flight: what the client declared, checked against storage on completion."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloudnexus.buckets.models import Bucket
from cloudnexus.db.columns import Base, JsonDocument, new_id, utcnow
from cloudnexus.uploads.status import ABORTED, COMPLETED, EXPIRED, FAILED, PENDING

__all__ = ["ABORTED", "COMPLETED", "EXPIRED", "FAILED", "MULTIPART", "PENDING", "SINGLE", "Upload"]

SINGLE, MULTIPART = "PUT", "MULTIPART"


class Upload(Base):
    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_status_expires", "status", "expires_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    bucket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"))
    file_id: Mapped[uuid.UUID] = mapped_column(default=new_id, unique=True)  # of its key
    # The file at its path that it overwrites, whose id (and key) the new file keeps.
    replaces_file_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    path: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str | None] = mapped_column(String(64))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonDocument)
    tags: Mapped[list[str]] = mapped_column(JsonDocument)
    overwrite: Mapped[bool] = mapped_column(default=False)
    method: Mapped[str] = mapped_column(String(16))
    part_size: Mapped[int | None] = mapped_column(Integer)
    multipart_id: Mapped[str | None] = mapped_column(String(1024))
    storage_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    # Why a complete (the client's, or the bytes' arrival) refused it and ended it: the
    # error's {"code", "message", "details"}, answered again to every later complete.
    refusal: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    created_by: Mapped[str | None] = mapped_column(String(255))  # given to its file
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    bucket: Mapped[Bucket] = relationship(lazy="joined", innerjoin=True)

    @property
    def result_file_id(self) -> uuid.UUID:
        """The id of the file it makes: the overwritten file's, else its own."""
        return self.replaces_file_id or self.file_id
