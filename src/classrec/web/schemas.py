"""Request and response bodies (pydantic), kept apart from the database tables."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Credentials(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=8, max_length=256)

    @field_validator("email")
    @classmethod
    def normalise_email(cls, value: str) -> str:
        value = value.strip().lower()
        if "@" not in value or value.startswith("@") or value.endswith("@"):
            raise ValueError("not an e-mail address")
        return value


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str


def _title(value: str) -> str:
    """Titles are stripped; one of only spaces would make the item unreachable in the list."""
    value = value.strip()
    if not value:
        raise ValueError("the title is empty: type a few words")
    return value


class SessionOut(BaseModel):
    user: UserOut | None
    max_upload_bytes: int


class LectureCreate(BaseModel):
    title: str = Field(default="Live lecture", min_length=1, max_length=200)
    _strip = field_validator("title")(_title)


class LectureUpdate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    _strip = field_validator("title")(_title)


class LectureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    owner_id: int
    course_id: int | None
    title: str
    source: str
    status: str
    original_name: str | None
    duration_s: float
    speech_ratio: float
    created_at: datetime

    @field_validator("created_at")
    @classmethod
    def as_utc(cls, value: datetime) -> datetime:
        """SQLite returns naive datetimes; they were stored as UTC."""
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class BookmarkIn(BaseModel):
    t: float = Field(ge=0)
    note: str = Field(default="", max_length=2000)


class BookmarkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    t: float
    note: str


class CourseCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    _strip = field_validator("title")(_title)


class JoinCourse(BaseModel):
    code: str = Field(min_length=1, max_length=32)


class CourseOut(BaseModel):
    """`invite_code` only for the teacher: students cannot invite others."""

    id: int
    title: str
    role: str  # "teacher" or "student"
    invite_code: str | None
