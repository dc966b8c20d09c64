"""Fixtures: an app on a real SQLite file in a temporary data dir, logged-in clients, and a real
server subprocess (for the browser and kill -9 tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from classrec.audio import load_audio
from classrec.web import create_app
from classrec.web.config import Settings
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


@pytest.fixture(scope="session")
def lecture_pcm() -> bytes:
    """tests/fixtures/lecture.flac as 16 kHz PCM16 little-endian bytes."""
    samples = load_audio(LECTURE)
    return to_pcm16(samples).tobytes()


def signup(client: TestClient | httpx.Client, email: str, password: str = "correct horse") -> None:
    """Sign up (which logs in) and remember the CSRF header for later requests."""
    client.get("/health")
    client.headers["x-csrf-token"] = client.cookies["classrec_csrf"]
    response = client.post("/api/auth/signup", json={"email": email, "password": password})
    assert response.status_code == 201, response.text


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", max_upload_mb=1, login_attempts=3)


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
    """`python -m classrec.web` on a free port; start, kill -9 and restart it on one data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = data_dir.parent / "server.log"

    def start(self) -> None:
        env = {**os.environ, "CLASSREC_DATA_DIR": str(self.data_dir),
               "CLASSREC_PORT": str(self.port), "CLASSREC_MAX_UPLOAD_MB": "5"}  # fmt: skip
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


def sign_up_in_page(page, url: str, email: str) -> None:  # noqa: ANN001
    page.goto(url)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "lecture-notes-123")
    page.click("#signup")
    page.wait_for_selector("table.library")
