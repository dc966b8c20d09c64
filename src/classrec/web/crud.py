"""Database reads and writes. Every lecture query is scoped to its owner, so another user's id
behaves exactly like an id that does not exist."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from classrec.web import auth
from classrec.web.models import AuthSession, Bookmark, Lecture, User


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


def list_lectures(db: Session, user: User) -> list[Lecture]:
    query = select(Lecture).where(Lecture.owner_id == user.id).order_by(Lecture.created_at.desc())
    return list(db.scalars(query))


def get_lecture(db: Session, user_id: int, lecture_id: str) -> Lecture | None:
    lecture = db.get(Lecture, lecture_id)
    return lecture if lecture is not None and lecture.owner_id == user_id else None


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


def get_bookmark(db: Session, lecture: Lecture, bookmark_id: int) -> Bookmark | None:
    mark = db.get(Bookmark, bookmark_id)
    return mark if mark is not None and mark.lecture_id == lecture.id else None


def add_bookmark(db: Session, lecture: Lecture, t: float, note: str) -> Bookmark:
    mark = Bookmark(lecture_id=lecture.id, t=t, note=note)
    db.add(mark)
    db.flush()
    return mark
