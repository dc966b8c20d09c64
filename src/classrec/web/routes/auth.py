"""Sign up, log in, log out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from classrec.web import crud
from classrec.web.auth import SESSION_COOKIE, verify_password
from classrec.web.deps import DbDep, SettingsDep, UserDep
from classrec.web.schemas import Credentials, UserOut

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _set_session(response: Response, token: str, settings: SettingsDep) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


@router.post("/signup", response_model=UserOut, status_code=201)
def signup(body: Credentials, response: Response, db: DbDep, settings: SettingsDep) -> UserOut:
    if crud.get_user_by_email(db, body.email) is not None:
        raise HTTPException(409, "an account with this e-mail exists: log in instead")
    user = crud.create_user(db, body.email, body.password)
    _set_session(response, crud.create_session(db, user, settings.session_days), settings)
    return UserOut.model_validate(user)


@router.post("/login", response_model=UserOut)
def login(
    body: Credentials, request: Request, response: Response, db: DbDep, settings: SettingsDep
) -> UserOut:
    limiter = request.app.state.login_limiter
    keys = (f"ip:{request.client.host if request.client else '?'}", f"email:{body.email}")
    wait = limiter.retry_after(*keys)
    if wait:
        raise HTTPException(
            429, f"too many failed logins: try again in {wait} s", {"Retry-After": str(wait)}
        )
    user = crud.get_user_by_email(db, body.email)
    if not verify_password(body.password, user.password_hash if user else None):
        limiter.failed(*keys)
        raise HTTPException(401, "wrong e-mail or password")
    limiter.succeeded(*keys)
    _set_session(response, crud.create_session(db, user, settings.session_days), settings)
    return UserOut.model_validate(user)


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, db: DbDep) -> None:
    crud.delete_session(db, request.cookies.get(SESSION_COOKIE))
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=UserOut)
def me(user: UserDep) -> UserOut:
    return UserOut.model_validate(user)
