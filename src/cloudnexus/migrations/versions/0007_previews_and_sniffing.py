"""Image previews and content sniffing.

Buckets gain `previews_enabled` and `preview_sizes`; files gain what sniffing found
(`detected_content_type`, `image`) and the previews made of them (`previews`: variant name →
bytes, `derived_bytes`: their sum); workspaces and buckets count derived bytes apart from
`used_bytes` (previews do not count against `max_bytes`). Adding columns with constant
defaults rewrites no table on PostgreSQL 11 and newer.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("buckets", sa.Column("previews_enabled", sa.Boolean(), nullable=False,
                                       server_default=sa.true()))
    op.add_column("buckets", sa.Column("preview_sizes", JSON, nullable=True))
    op.add_column("buckets", sa.Column("derived_bytes", sa.BigInteger(), nullable=False,
                                       server_default="0"))
    op.add_column("workspaces", sa.Column("derived_bytes", sa.BigInteger(), nullable=False,
                                          server_default="0"))
    op.add_column("files", sa.Column("detected_content_type", sa.String(255), nullable=True))
    op.add_column("files", sa.Column("image", JSON, nullable=True))
    op.add_column("files", sa.Column("previews", JSON, nullable=True))
    op.add_column("files", sa.Column("derived_bytes", sa.BigInteger(), nullable=False,
                                     server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        for column in ("derived_bytes", "previews", "image", "detected_content_type"):
            batch.drop_column(column)
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("derived_bytes")
    with op.batch_alter_table("buckets") as batch:
        for column in ("derived_bytes", "preview_sizes", "previews_enabled"):
            batch.drop_column(column)
