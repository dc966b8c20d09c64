"""Who is logged in, for the page's first request: a visitor gets 200 with `user: null`, not a
401 (which every browser logs as a console error on each logged-out load). Also the limits the
page checks before sending anything."""

from __future__ import annotations

from fastapi import APIRouter, Request

from classrec.web import crud
from classrec.web.auth import SESSION_COOKIE
from classrec.web.deps import DbDep, SettingsDep
from classrec.web.schemas import SessionOut, UserOut

router = APIRouter(prefix="/api", tags=["auth"])


@router.get("/session", response_model=SessionOut)
def session(request: Request, db: DbDep, settings: SettingsDep) -> SessionOut:
    user = crud.user_for_token(db, request.cookies.get(SESSION_COOKIE))
    return SessionOut(
        user=UserOut.model_validate(user) if user else None,
        max_upload_bytes=settings.max_upload_bytes,
    )
