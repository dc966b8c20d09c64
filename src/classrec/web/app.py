"""The FastAPI application: routers, middleware, static page, startup (migrate, recover)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from classrec.errors import ClassRecError
from classrec.web import hub
from classrec.web.auth import LoginLimiter
from classrec.web.config import Settings
from classrec.web.db import Database, migrate
from classrec.web.limits import Slots
from classrec.web.preset_tuning import TuningJobs
from classrec.web.routes import (
    auth,
    bookmarks,
    courses,
    lectures,
    live,
    preferences,
    session,
    system,
)
from classrec.web.schemas import validation_errors
from classrec.web.security import SecurityMiddleware

STATIC_DIR = Path(__file__).with_name("static")
log = logging.getLogger("classrec.web")


def _prepare(settings: Settings, db: Database) -> None:
    """Blocking startup work: directories, schema, lectures a crash left half-recorded."""
    for directory in (settings.data_dir, settings.lectures_dir, settings.tmp_dir):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)  # made 0755 by older versions: recordings are private
    migrate(db.engine)
    recovered = hub.recover_interrupted(settings, db)
    log.info("ready", extra={"data_dir": str(settings.data_dir), "recovered": recovered})


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url)
        await run_in_threadpool(_prepare, settings, db)
        app.state.db = db
        # made here, once, before any request: its start sweeps samples a stopped server left
        app.state.tuning_jobs = await run_in_threadpool(TuningJobs, settings.tmp_dir)
        app.state.hub = hub.LiveHub(settings, db)
        app.state.hub.start()
        yield
        await app.state.hub.shutdown()
        db.engine.dispose()

    app = FastAPI(title="ClassRec", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    # per address: a school behind one NAT address shares it, so no backoff there
    app.state.address_limiter = LoginLimiter(settings.login_attempts, settings.login_window_s)
    app.state.login_limiter = LoginLimiter(
        settings.login_attempts, settings.login_window_s, doublings=6
    )  # per (account, address)
    app.state.signup_limiter = LoginLimiter(settings.signups_per_hour, 3600)
    app.state.upload_slots = Slots(settings.uploads_per_user, settings.max_uploads, "uploads")
    app.state.analysis_slots = asyncio.Semaphore(settings.cpu_slots)
    app.add_middleware(SecurityMiddleware, secure_cookies=settings.secure_cookies)
    for module in (auth, session, lectures, bookmarks, courses, preferences, system, live):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(ClassRecError)
    async def user_error(_request: Request, exc: ClassRecError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_errors(exc.errors())}, status_code=422)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    return app
