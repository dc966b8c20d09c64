"""Uploads: lectures.upload_key, so sending the same file again (a reload mid-upload, a second
tab) finds the lecture made from it instead of storing a duplicate.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN without a constraint: SQLite allows it in place (no batch copy of `lectures`,
    # which would cascade away bookmarks; see 0002).
    op.add_column("lectures", sa.Column("upload_key", sa.String(64), nullable=True))
    op.create_index(
        "ix_lectures_owner_upload_key", "lectures", ["owner_id", "upload_key"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_lectures_owner_upload_key", "lectures")
    with op.batch_alter_table("lectures") as batch:
        batch.drop_column("upload_key")
