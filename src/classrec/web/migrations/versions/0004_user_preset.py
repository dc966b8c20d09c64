"""Segmentation presets: users.segment_preset, the JSON of the user's chosen preset (NULL: the
default options). See classrec.web.presets.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN without a constraint: SQLite allows it in place (no batch copy of `users`).
    op.add_column("users", sa.Column("segment_preset", sa.Text, nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place (SQLite >= 3.35): a batch copy of `users` would cascade away every
    # row that references it.
    op.drop_column("users", "segment_preset")
