"""`classrec detect --engine ray` against the local process pool, on real files: the same output
files byte for byte, and the same one-line error for a file that cannot be decoded. Needs the
`ray` extra (`pip install '.[ray]'`): skipped without it, except in CI (CI=true), which installs
it, so a lost install step fails instead of skipping."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import LECTURE

if os.environ.get("CI"):
    import ray  # noqa: F401 - CI installs the extra: without it this is an error, not a skip
else:
    pytest.importorskip("ray")
pytestmark = pytest.mark.slow

NOISE = LECTURE.with_name("noise.flac")


def detect(inputs: Path, out: Path, *engine: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "classrec", "detect", str(inputs), "-o", str(out),
               "--format", "rttm", "--jobs", "2", *engine]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_ray_engine_writes_what_the_local_engine_writes(tmp_path: Path, encoded, bad_files) -> None:  # noqa: ANN001
    inputs = tmp_path / "in"
    inputs.mkdir()
    for source in (LECTURE, NOISE, encoded["mp3"], encoded["mp4"], bad_files["text.wav"]):
        shutil.copy(source, inputs / source.name)
    local = detect(inputs, tmp_path / "local")
    by_ray = detect(inputs, tmp_path / "ray", "--engine", "ray")

    assert local.returncode == by_ray.returncode == 1  # text.wav is not audio
    error = [line for line in by_ray.stderr.splitlines() if "text.wav" in line]
    assert error and error == [line for line in local.stderr.splitlines() if "text.wav" in line]
    assert "Traceback" not in by_ray.stderr and "1 of 5 files failed" in by_ray.stderr
    written = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "ray").iterdir())
    assert len(written) == 4
    for name in written:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
        assert (tmp_path / "ray" / name).read_text().count("SPEAKER") >= (name != "noise.rttm")
