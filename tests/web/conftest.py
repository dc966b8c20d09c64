"""Fixtures: an app on a real SQLite file in a temporary data dir, logged-in clients, and a real
server subprocess (for the browser and kill -9 tests).

With DATABASE_URL=postgresql+psycopg://... the same fixtures put each test's app and server on a
new database of that PostgreSQL server instead (.ci/run runs the web suites both ways)."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text

from classrec.audio import load_audio
from classrec.web import create_app
from classrec.web.config import Settings
from classrec.web.db import Database, migrate
from classrec.web.storage import to_pcm16

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LECTURE = FIXTURES / "lecture.flac"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]  # fmt: skip


ADMIN_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = ADMIN_URL.startswith("postgresql")
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="about the SQLite file (DATABASE_URL is set)")
_TEMPLATE = "classrec_test_template"
_made: list[str] = []
_admin: list[Engine] = []


def _admin_engine() -> Engine:
    """An autocommit connection to the server named by DATABASE_URL; on first use it builds the
    template database by running every migration (so each test's copy starts at head)."""
    if not _admin:
        _admin.append(create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT"))
        with _admin[0].connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{_TEMPLATE}"'))
        template = Database(_database_url(_TEMPLATE))
        migrate(template.engine)
        template.engine.dispose()
        atexit.register(_drop_all)
    return _admin[0]


def _database_url(name: str) -> str:
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def fresh_database_url() -> str:
    """A new, migrated PostgreSQL database for one test or server; "" (a SQLite file in the
    data dir) when DATABASE_URL names no PostgreSQL server."""
    if not ON_POSTGRES:
        return ""
    name = f"classrec_test_{uuid.uuid4().hex[:12]}"
    with _admin_engine().connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE}" STRATEGY FILE_COPY'))
    _made.append(name)
    return _database_url(name)


def drop_database(url: str) -> None:
    """Drop a database made by `fresh_database_url` (its app's connections are ended)."""
    if url:
        name = make_url(url).database
        with _admin_engine().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        _made.remove(name)


def _drop_all() -> None:
    """At exit: the databases of servers a test made and stopped by hand."""
    for name in list(_made):
        drop_database(_database_url(name))
    _admin[0].dispose()


@pytest.fixture
def database_url() -> Iterator[str]:
    """This test's database: "" for SQLite, or a new PostgreSQL database (see ADMIN_URL)."""
    url = fresh_database_url()
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def lecture_pcm() -> bytes:
    """tests/fixtures/lecture.flac as 16 kHz PCM16 little-endian bytes."""
    samples = load_audio(LECTURE)
    return to_pcm16(samples).tobytes()


def signup(client: TestClient | httpx.Client, email: str, password: str = "correct horse") -> None:
    """Sign up, then log in as the page does (signup answers alike for a new and a taken e-mail
    and logs nobody in), and remember the CSRF header for later requests."""
    client.get("/health")
    client.headers["x-csrf-token"] = client.cookies["classrec_csrf"]
    body = {"email": email, "password": password}
    response = client.post("/api/auth/signup", json=body)
    assert response.status_code == 202, response.text
    response = client.post("/api/auth/login", json=body)
    assert response.status_code == 200, response.text


def upload(client: TestClient, data: bytes, filename: str = "talk.flac", **params: str):  # noqa: ANN201
    """POST an upload through the API (the response, unchecked: tests assert its status)."""
    return client.post(
        "/api/lectures/upload", params={"filename": filename, **params}, content=data
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, max_upload_mb=1, login_attempts=3
    )


@pytest.fixture
def app(settings: Settings):  # noqa: ANN201 - FastAPI app
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app) as c:
        signup(c, "alice@example.org")
        yield c


def extra_client(app) -> TestClient:  # noqa: ANN001
    """Another browser on the running app. Not entered as a context manager: that would run the
    app's startup and shutdown a second time and replace the live hub `client` started."""
    return TestClient(app)


@pytest.fixture
def other_client(app, client) -> TestClient:  # noqa: ANN001 - same app, second user
    c = extra_client(app)
    signup(c, "bob@example.org")
    return c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python -m classrec.web` on a free port; start, kill -9 and restart it on one data dir
    (and one database: `database_url`, "" for SQLite in the data dir)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self.database_url = fresh_database_url()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = data_dir.parent / "server.log"

    def start(self) -> None:
        env = {**os.environ, "CLASSREC_DATA_DIR": str(self.data_dir),
               "CLASSREC_PORT": str(self.port), "CLASSREC_MAX_UPLOAD_MB": "5",
               "DATABASE_URL": self.database_url}  # fmt: skip
        out = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "classrec.web"], env=env, stdout=out, stderr=out
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data")
    proc.start()
    yield proc
    proc.stop()
    drop_database(proc.database_url)


def write_wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm)
    return path


def watch_errors(page) -> list[str]:  # noqa: ANN001 - a Playwright page
    """Uncaught JavaScript errors and CSP violations, collected on `page.errors`."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: "Content Security Policy" in m.text and errors.append(m.text))
    page.errors = errors
    return errors


def shot(page, name: str) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)


@pytest.fixture
def browser_page(tmp_path, lecture_pcm):  # noqa: ANN001, ANN201
    """A page in Debian's chromium whose fake microphone plays tests/fixtures/lecture.flac."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed")
    mic = write_wav(tmp_path / "mic.wav", lecture_pcm)
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={mic}"]
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=args,
            viewport={"width": 1100, "height": 900}, accept_downloads=True,
        )  # fmt: skip
        page = context.new_page()
        watch_errors(page)
        yield page
        context.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory, lecture_pcm):  # noqa: ANN001, ANN201
    """One chromium for a test module (fake microphone as above); tests open their own
    contexts, one per user, with `new_page`."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed")
    mic = write_wav(tmp_path_factory.mktemp("mic") / "mic.wav", lecture_pcm)
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={mic}"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield browser
        browser.close()


def new_page(browser, width: int = 1100, height: int = 900):  # noqa: ANN001, ANN201
    """A fresh context (its own cookies: one user) and page, errors watched."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.grant_permissions(["microphone"])
    page = context.new_page()
    watch_errors(page)
    return page


@pytest.fixture(scope="module")
def module_server(tmp_path_factory) -> Iterator[ServerProcess]:
    """One server for a module's browser tests (each test signs up its own users)."""
    proc = ServerProcess(tmp_path_factory.mktemp("server") / "data")
    proc.start()
    yield proc
    proc.stop()
    drop_database(proc.database_url)


def sign_up_in_page(page, url: str, email: str) -> None:  # noqa: ANN001
    page.goto(url)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "lecture-notes-123")
    page.click("#signup")
    page.wait_for_selector("table.library")
