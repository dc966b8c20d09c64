"""Request and response bodies (pydantic), kept apart from the database tables."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from classrec.web.auth import weak_password


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


def strong_password(value: str) -> str:
    """A new password, refused (422) when `auth.weak_password` says why it is guessable."""
    reason = weak_password(value)
    if reason:
        raise ValueError(reason)
    return value


class NewCredentials(Credentials):
    """A sign-up: the password must also not be a weak one (a login accepts any, so an old
    account with a weak password can still log in and change it)."""

    _strong = field_validator("password")(strong_password)


class PasswordChange(BaseModel):
    password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=8, max_length=256)
    _strong = field_validator("new_password")(strong_password)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str


LINE_BREAKING = {"Cc", "Zl", "Zp"}
"""Unicode categories that become a space in a title: controls (NUL, CR, LF, tab) and line or
paragraph separators. A title is one line."""
INVISIBLE = {"Cf", "Co", "Cn"}
"""Unicode categories dropped from a title: format characters (the RTL override U+202E that makes
"evil<U+202E>gnp.exe" read as "evilexe.png"), private use and unassigned code points."""


def clean_title(value: str) -> str:
    """A title as one line of visible text, stripped; refused (ValueError, a 422) when nothing
    visible is left. Lone surrogates ("\\ud800x" in JSON: valid JSON but not UTF-8) are refused, not
    dropped: the database could not store them and the client sent something it did not mean."""
    if any(unicodedata.category(c) == "Cs" for c in value):
        raise ValueError("the title is not valid text (a lone UTF-16 surrogate): type it again")
    kept = (" " if unicodedata.category(c) in LINE_BREAKING else c for c in value)
    value = " ".join("".join(c for c in kept if unicodedata.category(c) not in INVISIBLE).split())
    if not value:
        raise ValueError("the title is empty: type a few words")
    return value


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors without the `input` and `ctx` they echo: an input of NaN or a lone
    surrogate cannot be written as JSON, so echoing it turned every such 422 into a 500 (and an
    echoed password has no business in a response). Our own reasons lose pydantic's "Value
    error, " prefix: the page shows `msg` as it is."""
    return [
        {"type": e["type"], "loc": e["loc"], "msg": e["msg"].removeprefix("Value error, ")}
        for e in errors
    ]


class SessionOut(BaseModel):
    user: UserOut | None
    max_upload_bytes: int


class LectureCreate(BaseModel):
    title: str = Field(default="Live lecture", min_length=1, max_length=200)
    _strip = field_validator("title")(clean_title)


class LectureUpdate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    _strip = field_validator("title")(clean_title)


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


MAX_BOOKMARK_S = 7 * 86400.0
"""Seconds: past any recording the settings allow (hours), and far from float overflow."""


class BookmarkIn(BaseModel):
    """`t` in seconds from the start; NaN, infinities and 1e308 are refused (422), not stored:
    they broke JSON answers and the timeline (a NaN cannot even be sent back)."""

    t: float = Field(ge=0, le=MAX_BOOKMARK_S, allow_inf_nan=False)
    note: str = Field(default="", max_length=2000)


class BookmarkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    t: float
    note: str


class CourseCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    _strip = field_validator("title")(clean_title)


class JoinCourse(BaseModel):
    code: str = Field(min_length=1, max_length=32)


class CourseOut(BaseModel):
    """`invite_code` only for the teacher: students cannot invite others."""

    id: int
    title: str
    role: str  # "teacher" or "student"
    invite_code: str | None


class PresetIn(BaseModel):
    """A segmentation preset: a room by name (web.presets.ROOMS), or the text of a preset file
    made by `classrec tune` (then `name` is ignored)."""

    name: str = Field("default", max_length=40)
    file: str | None = Field(None, max_length=100_000)


class PresetOut(BaseModel):
    name: str  # a room's name, "uploaded" or "tuned"
    options: dict[str, Any]  # VadOptions fields; max_speech_s null for no limit
    rooms: list[str]  # the names one can choose
    about: dict[str, Any] | None = None  # tuned on a sample: what on, and its table of scores
