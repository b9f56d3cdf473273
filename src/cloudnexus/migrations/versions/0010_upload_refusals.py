"""Uploads keep the refusal that ended them (a mismatch, bytes of a type the bucket does not
allow, a path taken meanwhile), so a later complete answers it again, whether the refusing
complete was the client's or the bytes' arrival.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("uploads", sa.Column(
        "refusal", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:  # SQLite: the table is copied
        batch.drop_column("refusal")
