"""Timestamped bookmarks and notes on a lecture: personal, so a student's marks on a course
lecture are theirs alone (and the teacher's are not shown to students)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from classrec.web import crud
from classrec.web.deps import DbDep, UserDep, ViewableLectureDep
from classrec.web.models import Bookmark, Lecture, User
from classrec.web.schemas import BookmarkIn, BookmarkOut

router = APIRouter(prefix="/api/lectures/{lecture_id}/bookmarks", tags=["bookmarks"])


@router.get("", response_model=list[BookmarkOut])
def list_bookmarks(lecture: ViewableLectureDep, user: UserDep, db: DbDep) -> list[Bookmark]:
    return crud.list_bookmarks(db, lecture, user.id)


@router.post("", response_model=BookmarkOut, status_code=201)
def add(body: BookmarkIn, lecture: ViewableLectureDep, user: UserDep, db: DbDep) -> Bookmark:
    return crud.add_bookmark(db, lecture, user.id, _within(lecture, body.t), body.note)


def _within(lecture: Lecture, t: float) -> float:
    """A time in seconds, no later than the lecture's end (a live one has no end yet)."""
    return min(t, lecture.duration_s or t)


def _owned(lecture: Lecture, user: User, bookmark_id: int, db: DbDep) -> Bookmark:
    mark = crud.get_bookmark(db, lecture, user.id, bookmark_id)
    if mark is None:
        raise HTTPException(404, "no such bookmark")
    return mark


@router.patch("/{bookmark_id}", response_model=BookmarkOut)
def edit(
    bookmark_id: int, body: BookmarkIn, lecture: ViewableLectureDep, user: UserDep, db: DbDep
) -> Bookmark:
    mark = _owned(lecture, user, bookmark_id, db)
    mark.t, mark.note = _within(lecture, body.t), body.note
    return mark


@router.delete("/{bookmark_id}", status_code=204)
def remove(bookmark_id: int, lecture: ViewableLectureDep, user: UserDep, db: DbDep) -> None:
    db.delete(_owned(lecture, user, bookmark_id, db))
