"""Sign up, log in, log out (here or everywhere), change the password, who am I."""

from __future__ import annotations

import unicodedata

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy import delete

from classrec.web import crud
from classrec.web.auth import (
    CSRF_BINDING_COOKIE,
    CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_binding,
    hash_password,
    verify_password,
)
from classrec.web.db import insert_unless_exists
from classrec.web.deps import DbDep, SettingsDep, UserDep
from classrec.web.models import AuthSession, User
from classrec.web.schemas import Credentials, NewCredentials, PasswordChange, UserOut

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _start_session(
    request: Request, response: Response, db: DbDep, user: User, settings: SettingsDep
) -> None:
    """A new login token; the one the browser carried (if any) is revoked, so a token planted
    or seen before a login is worth nothing after it. The page's CSRF token (checked before this
    request got here) is tied to the new login, and stays the same."""
    crud.delete_session(db, request.cookies.get(SESSION_COOKIE))
    token = crud.create_session(db, user, settings.session_days)
    binding = csrf_binding(token, request.cookies.get(CSRF_COOKIE, ""))
    for name, value in ((SESSION_COOKIE, token), (CSRF_BINDING_COOKIE, binding)):
        response.set_cookie(
            name,
            value,
            max_age=settings.session_days * 86400,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/",
        )


def _end_session(response: Response) -> None:
    for name in (SESSION_COOKIE, CSRF_BINDING_COOKIE):
        response.delete_cookie(name, path="/")


def _address(request: Request) -> str:
    """The peer's address. Proxy headers (X-Forwarded-For) are applied by uvicorn only when
    CLASSREC_TRUST_PROXY_HEADERS is set: otherwise a client could pick its own address."""
    return request.client.host if request.client else "?"


def _too_many(wait: int, what: str) -> HTTPException:
    return HTTPException(429, f"too many {what}: try again in {wait} s", {"Retry-After": str(wait)})


SIGNUP_ANSWER = "if this e-mail had no account, it has one now: log in with it"


@router.post("/signup", status_code=202)
def signup(body: NewCredentials, request: Request, db: DbDep) -> dict[str, str]:
    """New account, and the same answer whether the e-mail had one already or not: status,
    body, no cookie, and time (the password is hashed and one INSERT ... ON CONFLICT DO NOTHING
    runs in both cases). Nobody is logged in here: the page logs in next, which works for a new
    account and for an existing one's owner (docs/reliability.md: account enumeration)."""
    if any(c.isspace() or unicodedata.category(c)[0] == "C" for c in body.email):
        raise HTTPException(422, "an e-mail address has no spaces, line breaks or control codes")
    wait = request.app.state.signup_limiter.try_attempt(f"ip:{_address(request)}")
    if wait:
        raise _too_many(wait, "sign-ups from this address")
    password_hash = hash_password(body.password)  # before the database: a slow hash holds no lock
    insert_unless_exists(db, User, email=body.email, password_hash=password_hash)
    return {"detail": SIGNUP_ANSWER}


@router.post("/login", response_model=UserOut)
def login(
    body: Credentials, request: Request, response: Response, db: DbDep, settings: SettingsDep
) -> UserOut:
    """Limits count per address and per (account, address), the latter with backoff: guessing
    from one address stops after `login_attempts`, and nobody elsewhere can lock the owner out
    of their account."""
    keys = _attempt(request, body.email)
    user = crud.get_user_by_email(db, body.email)
    db.commit()  # no connection held while argon2 runs (~0.1 s, queued behind other hashes)
    if not verify_password(body.password, user.password_hash if user else None):
        raise HTTPException(401, "wrong e-mail or password")
    _succeeded(request, keys)
    _start_session(request, response, db, user, settings)
    return UserOut.model_validate(user)


def _attempt(request: Request, email: str) -> tuple[str, str]:
    """Count a password check against the address and the (account, address), or raise 429."""
    by_address, by_account = request.app.state.address_limiter, request.app.state.login_limiter
    address = _address(request)
    address_key, account_key = f"ip:{address}", f"account:{email} ip:{address}"
    wait = by_address.try_attempt(address_key)
    if not wait:
        wait = by_account.try_attempt(account_key)
        if wait:
            by_address.succeeded(address_key)  # refused before checking: not an attempt
    if wait:
        raise _too_many(wait, "failed logins")
    return address_key, account_key


def _succeeded(request: Request, keys: tuple[str, str]) -> None:
    request.app.state.address_limiter.succeeded(keys[0])
    request.app.state.login_limiter.succeeded(keys[1])


@router.post("/password", response_model=UserOut)
def change_password(
    body: PasswordChange,
    request: Request,
    response: Response,
    user: UserDep,
    db: DbDep,
    settings: SettingsDep,
) -> UserOut:
    """A new password needs the current one (limited like a login); every other login of the
    account is revoked, this browser gets a new one."""
    keys = _attempt(request, user.email)
    db.commit()  # no connection held while argon2 runs
    if not verify_password(body.password, user.password_hash):
        raise HTTPException(401, "the current password is wrong")
    _succeeded(request, keys)
    user.password_hash = hash_password(body.new_password)
    _revoke_all(db, user)
    _start_session(request, response, db, user, settings)
    return UserOut.model_validate(user)


def _revoke_all(db: DbDep, user: User) -> None:
    db.execute(delete(AuthSession).where(AuthSession.user_id == user.id))


@router.post("/logout-all", status_code=204)
def logout_everywhere(user: UserDep, response: Response, db: DbDep) -> None:
    """Revoke every login of the account (a lost laptop, a shared computer)."""
    _revoke_all(db, user)
    _end_session(response)


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, db: DbDep) -> None:
    crud.delete_session(db, request.cookies.get(SESSION_COOKIE))
    _end_session(response)


@router.get("/me", response_model=UserOut)
def me(user: UserDep) -> UserOut:
    return UserOut.model_validate(user)
