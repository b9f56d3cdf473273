"""A file: the record of an object in storage. Only `ready` files are listed or served."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloudnexus.buckets.models import Bucket
from cloudnexus.db.columns import Base, JsonDocument, new_id, utcnow
from cloudnexus.files.status import DELETING, MISSING, READY

__all__ = ["DELETING", "MISSING", "READY", "File"]


class File(Base):
    __tablename__ = "files"
    __table_args__ = (
        UniqueConstraint("bucket_id", "path"),
        Index("ix_files_bucket_created", "bucket_id", "created_at", "id"),
        Index("ix_files_bucket_size", "bucket_id", "size", "id"),
        Index("ix_files_bucket_created_by", "bucket_id", "created_by", "path"),
        # PostgreSQL only, made in the migrations: a trigram index on path_search for `q`,
        # a GIN index on tags for `tag`, and the table file_trigrams its triggers keep
        # (files/search.py).
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    bucket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"))
    # Byte order on PostgreSQL, like SQLite's BINARY: the same sort on both, and prefix
    # ranges use the index whatever the database's locale.
    path: Mapped[str] = mapped_column(
        String(1024).with_variant(String(1024, collation="C"), "postgresql"))
    # paths.search_key(path): Unicode case-folded in Python, as neither SQLite's lower() nor
    # PostgreSQL's under COLLATE "C" folds beyond ASCII.
    path_search: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str | None] = mapped_column(String(64))
    etag: Mapped[str] = mapped_column(String(32))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonDocument)
    tags: Mapped[list[str]] = mapped_column(JsonDocument)
    status: Mapped[str] = mapped_column(String(16), default=READY)
    storage_key: Mapped[str] = mapped_column(String(255))
    # The token's `sub`, or `key:<api key id>`; null for files made before it was recorded.
    created_by: Mapped[str | None] = mapped_column(String(255))
    # What the first bytes are (previews/sniffing.py): null when unknown, or not an image.
    detected_content_type: Mapped[str | None] = mapped_column(String(255))
    image: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    # Previews made of it (variant name -> bytes; null: none) and their sum.
    previews: Mapped[dict[str, int] | None] = mapped_column(JsonDocument)
    derived_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    bucket: Mapped[Bucket] = relationship(lazy="joined", innerjoin=True)
