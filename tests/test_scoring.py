"""Segment scores: frame F1 over windows, one-to-one segment matches, false alarms per hour."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FIXTURES, lecture_regions

from classrec.labels import window_labels
from classrec.pipeline import detect_file
from classrec.scoring import count, label_segments, matched_segments, window_mask
from classrec.segments import Segment, VadOptions

W = 0.032


def labels_for(*regions: tuple[float, float], n: int = 100) -> np.ndarray:
    return window_labels([Segment(a, b) for a, b in regions], n)


def test_perfect_segments_score_one() -> None:
    labels = labels_for((10 * W, 30 * W), (50 * W, 60 * W))
    c = count([Segment(10 * W, 30 * W), Segment(50 * W, 60 * W)], labels, 100 * W)
    assert (c.frame_f1, c.segment_f1, c.false_alarms) == (1.0, 1.0, 0)


def test_frame_counts_and_a_false_alarm() -> None:
    labels = labels_for((10 * W, 30 * W))
    found = [Segment(20 * W, 40 * W), Segment(70 * W, 75 * W)]
    c = count(found, labels, 100 * W)
    assert (c.tp, c.fp, c.fn) == (10, 15, 10)
    assert c.frame_f1 == pytest.approx(20 / 45)
    assert c.false_alarms == 1 and c.false_alarms_per_hour == pytest.approx(3600 / (100 * W))
    assert c.segment_f1 == 0.0  # IoU of the overlapping pair is 10 / 30


def test_one_found_segment_matches_one_labelled_segment() -> None:
    labelled = [Segment(0.0, 1.0), Segment(1.1, 1.2), Segment(2.0, 3.0)]
    assert matched_segments([Segment(0.0, 1.25)], labelled) == 1
    assert matched_segments([Segment(0.0, 1.0), Segment(0.1, 0.9)], labelled) == 1
    assert matched_segments([Segment(0.0, 3.0)], labelled) == 0  # IoU 1/3 with each
    assert matched_segments([Segment(0.0, 0.9), Segment(1.9, 3.1)], labelled) == 2


def test_counts_add_up_over_recordings() -> None:
    labels = labels_for((10 * W, 30 * W))
    one = count([Segment(20 * W, 40 * W)], labels, 100 * W)
    two = one + one
    assert (two.tp, two.fp, two.seconds) == (2 * one.tp, 2 * one.fp, 2 * one.seconds)
    assert two.frame_f1 == one.frame_f1


def test_window_mask_and_label_segments_round_trip() -> None:
    labels = labels_for((3 * W, 9 * W), (12 * W, 13 * W), n=20)
    segments = label_segments(labels)
    assert segments == [Segment(3 * W, 9 * W), Segment(12 * W, 13 * W)]
    assert np.array_equal(window_mask(segments, 20), labels >= 0.5)


def test_lecture_fixture_scores_high() -> None:
    """The shipped model on the fixture: both utterances found (known regions, loose bounds)."""
    segments, probs, duration = detect_file(FIXTURES / "lecture.flac", VadOptions())
    labels = window_labels([Segment(a, b) for a, b in lecture_regions()], len(probs))
    c = count(segments, labels, duration)
    assert c.frame_f1 > 0.9 and c.segment_f1 == 1.0 and c.false_alarms == 0
