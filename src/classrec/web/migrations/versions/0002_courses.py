"""Courses and students: courses, enrollments, lectures.course_id, bookmarks.user_id.

Existing bookmarks become their lecture owner's (until now only owners could make them).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("teacher_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("invite_code", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_courses_teacher_id", "courses", ["teacher_id"])
    op.create_index("ix_courses_invite_code", "courses", ["invite_code"], unique=True)
    op.create_table(
        "enrollments",
        sa.Column(
            "course_id",
            sa.Integer,
            sa.ForeignKey("courses.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_enrollments_user_id", "enrollments", ["user_id"])
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot add a constraint to a table, and a batch copy of `lectures` drops the old
        # table, which with the app's foreign keys on deletes every bookmark (cascade). ADD
        # COLUMN with the reference inline is what SQLite allows.
        op.execute(
            "ALTER TABLE lectures ADD COLUMN course_id INTEGER "
            "REFERENCES courses (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("lectures", sa.Column("course_id", sa.Integer, nullable=True))
        op.create_foreign_key(
            "fk_lectures_course_id", "lectures", "courses", ["course_id"], ["id"],
            ondelete="SET NULL",
        )  # fmt: skip
    op.create_index("ix_lectures_course_id", "lectures", ["course_id"])
    with op.batch_alter_table("bookmarks") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer, nullable=True))
    op.execute(
        "UPDATE bookmarks SET user_id = "
        "(SELECT owner_id FROM lectures WHERE lectures.id = bookmarks.lecture_id)"
    )
    with op.batch_alter_table("bookmarks") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer, nullable=False)
        batch.create_foreign_key(
            "fk_bookmarks_user_id", "users", ["user_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_bookmarks_user_id", ["user_id"])


def downgrade() -> None:
    """From the command line only (`alembic -x url=... downgrade 0001`): its plain SQLite
    connection has foreign keys off, so copying `lectures` without course_id keeps bookmarks."""
    with op.batch_alter_table("bookmarks") as batch:
        batch.drop_index("ix_bookmarks_user_id")
        batch.drop_constraint("fk_bookmarks_user_id", type_="foreignkey")
        batch.drop_column("user_id")
    op.drop_index("ix_lectures_course_id", "lectures")
    with op.batch_alter_table("lectures") as batch:
        batch.drop_column("course_id")
    op.drop_table("enrollments")
    op.drop_table("courses")
