"""`classrec detect --engine ray` against the local process pool, on real files: the same output
files byte for byte, and the same one-line error for a file that cannot be decoded. Needs the
`ray` extra (`pip install '.[ray]'`, which .ci/run installs); skipped without it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import LECTURE

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
    ray = detect(inputs, tmp_path / "ray", "--engine", "ray")

    assert local.returncode == ray.returncode == 1  # text.wav is not audio
    error = [line for line in ray.stderr.splitlines() if "text.wav" in line]
    assert error and error == [line for line in local.stderr.splitlines() if "text.wav" in line]
    assert "Traceback" not in ray.stderr and "1 of 5 files failed" in ray.stderr
    written = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "ray").iterdir())
    assert len(written) == 4
    for name in written:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
        assert (tmp_path / "ray" / name).read_text().count("SPEAKER") >= (name != "noise.rttm")
