"""Smoke runs of the file benchmarks (`classrec detect` against ffmpeg; the web upload through a
real server) at minute sizes, so their part of `make bench` cannot rot."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
if importlib.util.find_spec("bench") is None:  # the bench package lives at the repo root
    pytest.skip("bench package not importable from here", allow_module_level=True)
if shutil.which("ffmpeg") is None:
    pytest.skip("the reference decode needs the ffmpeg command", allow_module_level=True)

from bench.__main__ import main  # noqa: E402
from bench.common import Context  # noqa: E402
from bench.decode import run as run_decode  # noqa: E402


def test_detect_against_ffmpeg_gives_both_cpu_times(tmp_path: Path) -> None:
    section = run_decode(Context(data=tmp_path, plots=tmp_path, quick=True))
    assert section.results["seconds"] == 60.0
    for name, cpu in section.results["cpu_s"].items():
        assert cpu["ffmpeg"] > 0 and cpu["classrec"] > 0, name
        assert name in section.body
    assert "≤ 2×" in section.body


@pytest.mark.slow  # starts the web app in a subprocess
def test_upload_section_runs_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    assert main(["--quick", "--only", "upload", "--out", str(out), "--plots", str(tmp_path)]) == 0
    text = out.read_text()
    assert "upload → lecture playable" in text
    saved = (tmp_path / "upload.json").read_text()
    assert '"duration_s": 60' in saved  # the whole minute was uploaded and analysed
