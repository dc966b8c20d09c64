"""Smoke runs of every benchmark at tiny sizes, so `make bench` cannot rot (a few seconds)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
if importlib.util.find_spec("bench") is None:  # the bench package lives at the repo root
    pytest.skip("bench package not importable from here", allow_module_level=True)

from bench.__main__ import main  # noqa: E402

SMOKE = [
    "streaming",
    "wholefile",
    "streams",
    "growth",
    "memory",
    "profile",
    pytest.param("live", marks=pytest.mark.slow),  # starts the web app in a subprocess
    pytest.param("preset_tuning", marks=pytest.mark.slow),  # the web app, and a tuning process
    pytest.param("scaleout", marks=pytest.mark.slow),  # starts a local Ray runtime, if installed
]


@pytest.mark.parametrize("section", SMOKE)
def test_section_runs_and_reports(section, tmp_path: Path):
    out = tmp_path / "BENCHMARKS.md"
    assert main(["--quick", "--only", section, "--out", str(out), "--plots", str(tmp_path)]) == 0
    text = out.read_text()
    assert "## 1." in text
    assert "|" in text or "Not measured" in text  # scaleout without Ray installed
    for png in tmp_path.glob("*.png"):
        assert png.stat().st_size > 1000
