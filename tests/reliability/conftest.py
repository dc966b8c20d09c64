"""Shared pieces of the reliability suite: a crash- and hang-proof runner for the fuzzer, the
figures every test reports (printed at the end of the run; docs/reliability.md quotes them), and
the web fixtures of tests/web, reused rather than copied."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/ is on sys.path (rootdir conftest): reuse the web suite's app, clients and server process
from web.conftest import (  # noqa: F401 - fixtures are found by name
    LECTURE,
    ServerProcess,
    app,
    client,
    database_url,
    drop_database,
    extra_client,
    lecture_pcm,
    other_client,
    server,
    settings,
    signup,
)

WORKER = Path(__file__).with_name("fuzz_worker.py")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FIGURES: dict[str, dict[str, object]] = defaultdict(dict)
"""section → figure name → value; filled by the tests, printed in the terminal summary."""


def report(section: str, **figures: object) -> None:
    """Record measured figures (cases tried, faults injected, bytes lost) for the summary."""
    FIGURES[section].update(figures)


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest hook
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for section, figures in sorted(FIGURES.items()):
        line = ", ".join(f"{k}={v}" for k, v in figures.items())
        terminalreporter.write_line(f"{section}: {line}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "reliability.json").write_text(json.dumps(FIGURES, indent=1, default=str))


class FuzzRunner:
    """Feeds cases to `fuzz_worker.py` and bounds each one in time.

    A case that does not answer within its limit is a hang (the worker is killed and restarted);
    a worker that dies is a crash. Both are outcomes the tests fail on, with the case named.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.tried: dict[str, int] = defaultdict(int)

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        return self.proc

    def run(self, mode: str, path: Path, timeout: float = 20.0) -> dict:
        """One case: {"outcome": "ok" | "error" | "unexpected" | "hang" | "crash", ...}."""
        proc = self._start()
        self.tried[mode] += 1
        request = {"mode": mode, "path": str(path), "out": str(path) + ".json"}
        started = time.monotonic()
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
        except BrokenPipeError:
            return self._died()
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            return {"outcome": "hang", "detail": f"no answer in {timeout} s"}
        line = proc.stdout.readline()
        if not line:
            return self._died()
        return {**json.loads(line), "seconds": time.monotonic() - started}

    def _died(self) -> dict:
        code = self.proc.wait() if self.proc else None
        self.proc = None
        return {"outcome": "crash", "detail": f"worker exited with {code}"}

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture(scope="session")
def fuzz() -> Iterator[FuzzRunner]:
    runner = FuzzRunner()
    yield runner
    runner.close()


def start_server(tmp_path: Path, **env: str) -> ServerProcess:
    """`python -m classrec.web` with these extra environment variables."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        proc = ServerProcess(tmp_path / "data")
        proc.start()
    return proc


@pytest.fixture
def real_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server whose uploads time out after 5 s without enough bytes (tests stay short)."""
    proc = start_server(tmp_path, CLASSREC_UPLOAD_IDLE_S="5")
    yield proc
    proc.stop()
    drop_database(proc.database_url)


@pytest.fixture
def five_stream_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """One teacher recording five rooms at once: over the default per-account stream limit."""
    proc = start_server(tmp_path, CLASSREC_STREAMS_PER_USER="5")
    yield proc
    proc.stop()
    drop_database(proc.database_url)
