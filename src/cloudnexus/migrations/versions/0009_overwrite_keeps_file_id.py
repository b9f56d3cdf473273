"""An overwrite keeps the file's id: an upload notes the file it replaces.

`uploads.replaces_file_id` is the id of the file at the upload's path when it overwrites one
(set when the upload is made, and again at complete, which may find another): the file it
makes takes that id, so its key and `public_url` stay. A nullable column without a default
rewrites no table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 04:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("uploads", sa.Column("replaces_file_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("replaces_file_id")
