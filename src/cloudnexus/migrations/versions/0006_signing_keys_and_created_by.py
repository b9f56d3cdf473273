"""Signing keys for delegated tokens, and who made each file (`created_by`).

`created_by` is the token's `sub` or `key:<api key id>`; files and uploads made before this
revision have none (null). The listing's `created_by` filter walks
(bucket_id, created_by, path), built CONCURRENTLY on PostgreSQL so a deploy does not block
writes on a large table; adding a nullable column rewrites nothing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEX = "ix_files_bucket_created_by"


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_signing_keys_workspace_id"), "signing_keys", ["workspace_id"],
                    unique=False)
    op.add_column("files", sa.Column("created_by", sa.String(length=255), nullable=True))
    op.add_column("uploads", sa.Column("created_by", sa.String(length=255), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(INDEX, "files", ["bucket_id", "created_by", "path"])
        return
    with op.get_context().autocommit_block():
        op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} "
                   "ON files (bucket_id, created_by, path)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
    else:
        op.drop_index(INDEX, table_name="files")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("created_by")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("created_by")
    op.drop_index(op.f("ix_signing_keys_workspace_id"), table_name="signing_keys")
    op.drop_table("signing_keys")
