"""The outbox: one row per change, written in the transaction that makes the change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloudnexus.db.columns import Base, JsonDocument, new_id, utcnow

# The writing transaction's id (xid8, which never wraps) on PostgreSQL; SQLite has none (0).
CURRENT_XID = "pg_current_xact_id()::text::bigint"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_workspace_position", "workspace_id", "xid", "seq"),
        Index("ix_events_created_at", "created_at"),
        {"sqlite_autoincrement": True},  # a deleted last row's number is never handed out again
    )

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"),
                                     primary_key=True, autoincrement=True)
    xid: Mapped[int] = mapped_column(BigInteger, default=0)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Webhook(Base):
    """An address the workspace's events are sent to, signed with its secret."""

    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JsonDocument)
    description: Mapped[str | None] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(64))
    # Rotated out: it signs beside the new one until it expires.
    previous_secret: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[datetime | None]
    disabled: Mapped[bool] = mapped_column(default=False)
    # Where its dispatcher is in the outbox: an events cursor (outbox.encode_cursor).
    cursor: Mapped[str | None] = mapped_column(String(64))
    failing_since: Mapped[datetime | None]
    failed_events: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookTask(Base):
    """An event still to deliver to a webhook, and when to try next."""

    __tablename__ = "webhook_tasks"
    __table_args__ = (Index("ix_webhook_tasks_due", "next_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    webhook_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    event_seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("events.seq", ondelete="CASCADE"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One attempt to deliver an event: the deliveries log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook", "webhook_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID]
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
