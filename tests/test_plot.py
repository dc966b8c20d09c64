"""Plots: the picture is written, zooms work, long recordings are reduced to pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_audio import LECTURE

from classrec.errors import ClassRecError
from classrec.plot import plot_file, reduce_columns, window_envelope


def test_envelope_and_reduction_keep_the_peaks() -> None:
    signal = np.zeros(16000, dtype=np.float32)
    signal[7777] = 0.9
    env = window_envelope(signal, 512)
    assert env.shape == (32, 2) and env[:, 1].max() == pytest.approx(0.9)
    group, lo, hi = reduce_columns(np.arange(10_000.0), np.arange(10_000.0), columns=100)
    assert group == 100 and len(hi) == 100 and hi[-1] == 9999 and lo[0] == 0


def test_plot_writes_an_image(tmp_path: Path) -> None:
    out = tmp_path / "lecture.png"
    plot_file(LECTURE, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    zoom = tmp_path / "zoom.svg"
    plot_file(LECTURE, zoom, start_s=2.0, end_s=5.0)
    assert zoom.read_text().lstrip().startswith("<?xml")
    with pytest.raises(ClassRecError, match="start"):
        plot_file(LECTURE, tmp_path / "bad.png", start_s=8.0, end_s=3.0)
    assert not (tmp_path / "bad.png").exists()
