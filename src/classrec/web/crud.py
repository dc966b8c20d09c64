"""Database reads and writes. Every lecture query is scoped to the user asking: its owner may
change it, members of its course may read it, and for anyone else its id behaves exactly like an
id that does not exist."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from classrec.segments import VadOptions
from classrec.web import auth, presets
from classrec.web.db import insert_unless_exists
from classrec.web.models import AuthSession, Bookmark, Course, Enrollment, Lecture, User

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
INVITE_LENGTH = 8  # 32**8: about 10**12 codes


def get_user_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == email))


def create_user(db: Session, email: str, password: str) -> User:
    user = User(email=email, password_hash=auth.hash_password(password))
    db.add(user)
    db.flush()
    return user


def create_session(db: Session, user: User, days: int) -> str:
    """A new login for `user`; returns the cookie token (only its hash is stored)."""
    token = auth.new_token()
    db.add(
        AuthSession(
            token_hash=auth.token_hash(token), user_id=user.id, expires_at=auth.session_expiry(days)
        )
    )
    return token


def user_for_token(db: Session, token: str | None) -> User | None:
    if not token:
        return None
    row = db.get(AuthSession, auth.token_hash(token))
    if row is None:
        return None
    expires = row.expires_at.replace(tzinfo=row.expires_at.tzinfo or timezone.utc)
    if expires < datetime.now(timezone.utc):
        db.delete(row)
        return None
    return db.get(User, row.user_id)


def delete_session(db: Session, token: str | None) -> None:
    if token:
        db.execute(delete(AuthSession).where(AuthSession.token_hash == auth.token_hash(token)))


def segment_options(db: Session, user_id: int) -> VadOptions:
    """How `user_id`'s lectures are cut into speech regions (their preset, see web.presets)."""
    user = db.get(User, user_id)
    return presets.chosen(user.segment_preset if user else None)[1]


def list_lectures(db: Session, user: User) -> list[Lecture]:
    query = select(Lecture).where(Lecture.owner_id == user.id).order_by(Lecture.created_at.desc())
    return list(db.scalars(query))


def lecture_ids(db: Session, user_id: int) -> list[str]:
    """Ids of the user's lectures (no rows loaded: a quota check on every live socket)."""
    return list(db.scalars(select(Lecture.id).where(Lecture.owner_id == user_id)))


def get_lecture(db: Session, user_id: int, lecture_id: str) -> Lecture | None:
    lecture = db.get(Lecture, lecture_id)
    return lecture if lecture is not None and lecture.owner_id == user_id else None


def get_viewable_lecture(db: Session, user_id: int, lecture_id: str) -> Lecture | None:
    """The lecture if `user_id` owns it or is in its course (as teacher or student)."""
    lecture = db.get(Lecture, lecture_id)
    if lecture is None:
        return None
    if lecture.owner_id == user_id:
        return lecture
    if lecture.course_id is not None and course_role(db, lecture.course_id, user_id):
        return lecture
    return None


def lecture_by_upload_key(db: Session, user_id: int, key: str) -> Lecture | None:
    """The user's lecture made from the file the page named `key` (see lectures.upload_key)."""
    return db.scalar(select(Lecture).where(Lecture.owner_id == user_id, Lecture.upload_key == key))


def create_lecture(db: Session, user: User, title: str, source: str, **fields) -> Lecture:
    lecture = Lecture(owner_id=user.id, title=title, source=source, **fields)
    db.add(lecture)
    db.flush()
    return lecture


def lectures_with_status(db: Session, status: str) -> list[Lecture]:
    return list(db.scalars(select(Lecture).where(Lecture.status == status)))


def update_lecture(db: Session, lecture_id: str, **fields) -> None:
    lecture = db.get(Lecture, lecture_id)
    if lecture is not None:
        for name, value in fields.items():
            setattr(lecture, name, value)


def list_bookmarks(db: Session, lecture: Lecture, user_id: int) -> list[Bookmark]:
    query = select(Bookmark).where(Bookmark.lecture_id == lecture.id, Bookmark.user_id == user_id)
    return list(db.scalars(query.order_by(Bookmark.t)))


def get_bookmark(db: Session, lecture: Lecture, user_id: int, bookmark_id: int) -> Bookmark | None:
    mark = db.get(Bookmark, bookmark_id)
    mine = mark is not None and mark.lecture_id == lecture.id and mark.user_id == user_id
    return mark if mine else None


def add_bookmark(db: Session, lecture: Lecture, user_id: int, t: float, note: str) -> Bookmark:
    mark = Bookmark(lecture_id=lecture.id, user_id=user_id, t=t, note=note)
    db.add(mark)
    db.flush()
    return mark


def create_course(db: Session, teacher: User, title: str) -> Course:
    code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
    course = Course(teacher_id=teacher.id, title=title, invite_code=code)
    db.add(course)
    db.flush()
    return course


def course_role(db: Session, course_id: int, user_id: int) -> str | None:
    """The role, "teacher" or "student", or None: not a member, so the course is as missing."""
    course = db.get(Course, course_id)
    if course is None:
        return None
    if course.teacher_id == user_id:
        return "teacher"
    enrolled = exists().where(Enrollment.course_id == course_id, Enrollment.user_id == user_id)
    return "student" if db.scalar(select(enrolled)) else None


def list_courses(db: Session, user: User) -> list[Course]:
    """Courses `user` teaches or attends, newest first."""
    attends = select(Enrollment.course_id).where(Enrollment.user_id == user.id)
    query = select(Course).where((Course.teacher_id == user.id) | Course.id.in_(attends))
    return list(db.scalars(query.order_by(Course.created_at.desc())))


def course_by_code(db: Session, code: str) -> Course | None:
    return db.scalar(select(Course).where(Course.invite_code == code.strip().upper()))


def enroll(db: Session, course: Course, user: User) -> None:
    """Join as a student; joining twice (also at once: a double click), or one's own course,
    changes nothing."""
    if course_role(db, course.id, user.id) is None:
        insert_unless_exists(db, Enrollment, course_id=course.id, user_id=user.id)


def leave_course(db: Session, course: Course, user: User) -> None:
    db.execute(
        delete(Enrollment).where(Enrollment.course_id == course.id, Enrollment.user_id == user.id)
    )


def delete_course(db: Session, course: Course) -> None:
    """Explicit rather than left to ON DELETE rules, so it needs no foreign-key enforcement."""
    db.execute(update(Lecture).where(Lecture.course_id == course.id).values(course_id=None))
    db.execute(delete(Enrollment).where(Enrollment.course_id == course.id))
    db.delete(course)


def course_lectures(db: Session, course: Course) -> list[Lecture]:
    query = select(Lecture).where(Lecture.course_id == course.id)
    return list(db.scalars(query.order_by(Lecture.created_at.desc())))
