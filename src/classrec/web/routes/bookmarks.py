"""Timestamped bookmarks and notes on a lecture."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from classrec.web import crud
from classrec.web.deps import DbDep, LectureDep
from classrec.web.models import Bookmark
from classrec.web.schemas import BookmarkIn, BookmarkOut

router = APIRouter(prefix="/api/lectures/{lecture_id}/bookmarks", tags=["bookmarks"])


@router.get("", response_model=list[BookmarkOut])
def list_bookmarks(lecture: LectureDep) -> list[Bookmark]:
    return lecture.bookmarks


@router.post("", response_model=BookmarkOut, status_code=201)
def add(body: BookmarkIn, lecture: LectureDep, db: DbDep) -> Bookmark:
    return crud.add_bookmark(db, lecture, min(body.t, lecture.duration_s or body.t), body.note)


def _owned(lecture: LectureDep, bookmark_id: int, db: DbDep) -> Bookmark:
    mark = crud.get_bookmark(db, lecture, bookmark_id)
    if mark is None:
        raise HTTPException(404, "no such bookmark")
    return mark


@router.patch("/{bookmark_id}", response_model=BookmarkOut)
def edit(bookmark_id: int, body: BookmarkIn, lecture: LectureDep, db: DbDep) -> Bookmark:
    mark = _owned(lecture, bookmark_id, db)
    mark.t, mark.note = body.t, body.note
    return mark


@router.delete("/{bookmark_id}", status_code=204)
def remove(bookmark_id: int, lecture: LectureDep, db: DbDep) -> None:
    db.delete(_owned(lecture, bookmark_id, db))
