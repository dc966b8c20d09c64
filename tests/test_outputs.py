"""Output formats parse back to the same segments; files are written all or nothing."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from classrec.errors import ClassRecError
from classrec.outputs import (
    FORMATS,
    atomic_path,
    format_probabilities,
    format_segments,
    parse_segments,
    write_atomic,
)
from classrec.segments import Segment

SEGMENTS = [Segment(1.0, 4.55), Segment(6.05, 8.7123), Segment(3661.5, 3662.25)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(fmt: str) -> None:
    text = format_segments(SEGMENTS, fmt, "my lecture.flac")
    back = parse_segments(text, fmt)
    assert len(back) == len(SEGMENTS)
    for got, want in zip(back, SEGMENTS, strict=True):
        assert got.start == pytest.approx(want.start, abs=5e-4)
        assert got.end == pytest.approx(want.end, abs=5e-4)
    assert parse_segments(format_segments([], fmt), fmt) == []


def test_formats_look_like_their_tools_expect() -> None:
    assert json.loads(format_segments(SEGMENTS[:1], "json", "a.wav")) == {
        "file": "a.wav",
        "segments": [{"start": 1.0, "end": 4.55}],
    }
    rttm = format_segments(SEGMENTS[:1], "rttm", "my lecture.flac")
    assert rttm == "SPEAKER my_lecture 1 1.000 3.550 <NA> <NA> speech <NA> <NA>\n"
    srt = format_segments(SEGMENTS, "srt")
    assert "3\n01:01:01,500 --> 01:01:02,250\nspeech\n" in srt
    assert format_segments(SEGMENTS[:1], "audacity") == "1.000000\t4.550000\tspeech\n"
    assert format_segments(SEGMENTS[:1], "tsv").splitlines() == [
        "start\tend\ttext",
        "1000\t4550\tspeech",
    ]
    with pytest.raises(ClassRecError, match="unknown format"):
        format_segments(SEGMENTS, "xml")


def test_probabilities_csv() -> None:
    rows = list(csv.DictReader(io.StringIO(format_probabilities(np.array([0.1, 0.9]), 0.032))))
    assert rows == [
        {"start": "0.000", "end": "0.032", "probability": "0.10000"},
        {"start": "0.032", "end": "0.064", "probability": "0.90000"},
    ]


def test_write_atomic_refuses_overwrite_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    write_atomic(out, "first")
    with pytest.raises(ClassRecError, match="already exists; use --force"):
        write_atomic(out, "second")
    write_atomic(out, "second", force=True)
    assert out.read_text() == "second"

    with pytest.raises(KeyboardInterrupt), atomic_path(out) as tmp:  # Ctrl-C mid-write
        tmp.write_text("half of the")
        raise KeyboardInterrupt
    assert out.read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    with pytest.raises(ClassRecError, match="does not exist"):
        write_atomic(tmp_path / "no" / "out.json", "x")
    with pytest.raises(ClassRecError, match="is a folder"):
        write_atomic(tmp_path, "x")
