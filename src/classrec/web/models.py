"""Database tables (SQLAlchemy 2 declarative); Alembic migrations create the schema."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    """Random, unguessable ids: they also name storage directories, so they must be server-made."""
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    segment_preset: Mapped[str | None] = mapped_column(Text, nullable=True)
    """How this user's lectures are cut into speech regions: JSON written by
    classrec.web.presets (NULL: the default options). Added in migration 0004."""


class AuthSession(Base):
    """A login; the cookie holds a random token and only its SHA-256 is stored."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Course(Base):
    """A teacher's course: lectures added to it can be watched by the students who joined it
    with its invite code (the teacher is `teacher_id`, students are `Enrollment` rows)."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    invite_code: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Enrollment(Base):
    """A student in a course: may read its lectures, never change them."""

    __tablename__ = "enrollments"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Lecture(Base):
    """One recording. `status`: recording, interrupted (server died while recording), processing
    (an upload being analysed), ready.
    Only its owner changes it; a course it belongs to lets that course's students watch it."""

    __tablename__ = "lectures"
    __table_args__ = (Index("ix_lectures_owner_upload_key", "owner_id", "upload_key", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), index=True, nullable=True
    )
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # "live" or "upload"
    status: Mapped[str] = mapped_column(String(16), default="ready")
    original_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    speech_ratio: Mapped[float] = mapped_column(Float, default=0.0)
    upload_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The page's key for the chosen file (unique per owner): the same file sent twice is one
    lecture. Unique with owner_id in migration 0003's index."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    bookmarks: Mapped[list[Bookmark]] = relationship(
        back_populates="lecture", cascade="all, delete-orphan", order_by="Bookmark.t"
    )


class Bookmark(Base):
    """A time in a lecture with a note; personal: each user sees only their own."""

    __tablename__ = "bookmarks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lecture_id: Mapped[str] = mapped_column(
        ForeignKey("lectures.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    t: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    lecture: Mapped[Lecture] = relationship(back_populates="bookmarks")
