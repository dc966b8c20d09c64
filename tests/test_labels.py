"""Reading people's labels: every format gives the same regions; bad files one clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import lecture_regions

from classrec.errors import ClassRecError
from classrec.labels import read_labels, window_labels
from classrec.outputs import format_segments
from classrec.segments import Segment

REGIONS = [Segment(a, b) for a, b in lecture_regions()]


@pytest.mark.parametrize(("fmt", "suffix"), [("rttm", ".rttm"), ("audacity", ".txt"),
                                             ("json", ".json"), ("csv", ".csv")])  # fmt: skip
def test_each_format_reads_back_what_detect_writes(tmp_path: Path, fmt: str, suffix: str) -> None:
    path = tmp_path / f"lecture{suffix}"
    path.write_text(format_segments(REGIONS, fmt, "lecture.flac"))
    assert read_labels(path, "lecture") == REGIONS


def test_corpus_json_and_audacity_point_and_spectral_lines(tmp_path: Path) -> None:
    assert read_labels(Path(__file__).parent / "fixtures" / "lecture.json") == REGIONS
    path = tmp_path / "labels.txt"
    path.write_text("1.0\t4.55\tspeech\n\\\t100\t2000\n5.0\t5.0\tclick\n6.05\t8.71\t\n")
    assert read_labels(path) == REGIONS


def test_rttm_with_several_recordings_and_overlapping_speakers(tmp_path: Path) -> None:
    path = tmp_path / "all.rttm"
    path.write_text(
        "SPEAKER a 1 1.0 2.0 <NA> <NA> spk1 <NA> <NA>\n"
        "SPEAKER a 1 2.5 1.0 <NA> <NA> spk2 <NA> <NA>\n"
        "SPEAKER b 1 0.5 0.5 <NA> <NA> spk1 <NA> <NA>\n"
    )
    assert read_labels(path, "a") == [Segment(1.0, 3.5)]
    assert read_labels(path, "b") == [Segment(0.5, 1.0)]
    with pytest.raises(ClassRecError, match="no lines for recording 'c'"):
        read_labels(path, "c")


def test_real_meeting_rttm(corpus: Path) -> None:
    regions = read_labels(corpus / "meetings/ami/train.rttm", "trn01")
    assert 0 <= regions[0].start and regions[-1].end <= 30.5
    assert all(a.end < b.start for a, b in zip(regions, regions[1:], strict=False))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("x.lab", "1 2", "unknown label format"),
        ("x.json", "{not json", "not valid json"),
        ("x.json", '{"speech": [[2.0, 1.0]]}', "ends before it starts"),
        ("x.csv", "begin,stop\n1,2\n", "not valid csv"),
        ("x.txt", "one\ttwo\n", "not valid audacity"),
    ],
)
def test_bad_label_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ClassRecError, match=message):
        read_labels(path)


def test_window_labels_are_fractions_of_each_32_ms_window() -> None:
    got = window_labels([Segment(0.016, 0.080)], 4)
    assert np.allclose(got, [0.5, 1.0, 0.5, 0.0])
