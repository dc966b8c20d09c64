"""FastAPI dependencies shared by the routes: settings, a database session, the logged-in user,
a lecture that belongs to that user, and one the user may watch (404 otherwise, never 403, so
ids reveal nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from classrec.web import crud, storage
from classrec.web.auth import SESSION_COOKIE
from classrec.web.config import Settings
from classrec.web.models import Lecture, User
from classrec.web.storage import LectureFiles


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.db.session() as session:
        yield session


# "function": commit before the response is sent. FastAPI's default ("request") commits after,
# so a client's next request could miss what this one wrote (a 401 right after signup).
DbDep = Annotated[Session, Depends(get_db, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def current_user(request: Request, db: DbDep) -> User:
    user = crud.user_for_token(db, request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise HTTPException(401, "log in first")
    return user


UserDep = Annotated[User, Depends(current_user)]


def owned_lecture(lecture_id: str, user: UserDep, db: DbDep) -> Lecture:
    lecture = crud.get_lecture(db, user.id, lecture_id)
    if lecture is None:
        raise HTTPException(404, "no such lecture")
    return lecture


LectureDep = Annotated[Lecture, Depends(owned_lecture)]


def viewable_lecture(lecture_id: str, user: UserDep, db: DbDep) -> Lecture:
    """A lecture the user may watch: their own, or one in a course they teach or attend."""
    lecture = crud.get_viewable_lecture(db, user.id, lecture_id)
    if lecture is None:
        raise HTTPException(404, "no such lecture")
    return lecture


ViewableLectureDep = Annotated[Lecture, Depends(viewable_lecture)]


def short_lived_user(request: Request) -> User:
    """The logged-in user, with the database session closed before the route runs: for routes
    that keep a request open for minutes (uploads), so a slow client holds no pool connection."""
    with request.app.state.db.session() as db:
        return current_user(request, db)


ShortUserDep = Annotated[User, Depends(short_lived_user)]


def quota_left(settings: Settings, db: Session, user_id: int) -> int:
    """Bytes the user may still store: their quota less what their lectures take on disk (may be
    negative). Uploads and live sockets both count it this way; only ids are loaded."""
    ids = crud.lecture_ids(db, user_id)
    return settings.user_quota_bytes - storage.used_bytes(settings.lectures_dir, ids)


def request_quota_left(request: Request, user: User) -> int:
    """`quota_left` in a session of its own (for a route that holds none)."""
    with request.app.state.db.session() as db:
        return quota_left(request.app.state.settings, db, user.id)


def lecture_files(settings: Settings, lecture: Lecture) -> LectureFiles:
    return LectureFiles.of(settings.lectures_dir, lecture.id)
