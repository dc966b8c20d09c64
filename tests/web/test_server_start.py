"""`python -m classrec.web` starts with one BLAS thread (classrec.pipeline.limit_blas_threads), as
the CLI does: extra threads only spin on the small products of the live hub and uploads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import free_port

pytestmark = pytest.mark.slow  # a real server process

SERVE_AND_REPORT = """
import sys, threading, time, httpx
from threadpoolctl import threadpool_info
from classrec.web.__main__ import main

def blas_threads():
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

before = blas_threads()
threading.Thread(target=main, args=([],), daemon=True).start()  # the real start, real uvicorn
for _ in range(300):
    try:
        if httpx.get(sys.argv[1] + "/health", timeout=1).status_code == 200:
            break
    except httpx.HTTPError:
        time.sleep(0.1)
else:
    sys.exit("server did not start")
print(before, blas_threads())
"""


def test_server_runs_with_one_blas_thread(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CLASSREC_DATA_DIR": str(tmp_path / "data"), "CLASSREC_PORT": str(port)}
    env.pop("DATABASE_URL", None)  # SQLite in the data dir: this test is not about the database
    done = subprocess.run(
        [sys.executable, "-c", SERVE_AND_REPORT, f"http://127.0.0.1:{port}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    before, serving = map(int, done.stdout.split())
    if before == 1:
        pytest.skip("BLAS starts with one thread on this machine: nothing to limit")
    assert serving == 1
