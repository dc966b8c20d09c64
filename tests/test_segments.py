"""Probabilities → segments: each step alone, the invariants on any input, and real audio."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import FIXTURES, FOUND_S, TOLERANCE_S, assert_matches_regions
from hypothesis import given, settings
from hypothesis import strategies as st

from classrec.errors import ClassRecError
from classrec.pipeline import detect_file
from classrec.segments import (
    Segment,
    VadOptions,
    drop_short,
    hysteresis,
    merge_gaps,
    pad,
    runs,
    speech_segments,
    split_long,
    trim_weak_tails,
)


def test_hysteresis_holds_speech_between_the_thresholds() -> None:
    probs = np.array([0.1, 0.6, 0.4, 0.3, 0.2, 0.4, 0.6])
    assert hysteresis(probs, on=0.5, off=0.35).tolist() == [0, 1, 1, 0, 0, 0, 1]
    assert hysteresis(probs[:1], on=0.5, off=0.05, speaking=True).tolist() == [1]


def test_runs_merge_drop_pad_split_each_alone() -> None:
    assert runs(np.array([0, 1, 1, 0, 1], dtype=bool)) == [(1, 3), (4, 5)]
    assert merge_gaps([(0, 2), (3, 5), (9, 10)], min_gap=2) == [(0, 5), (9, 10)]
    assert drop_short([(0, 2), (3, 9)], min_len=3) == [(3, 9)]
    segments = pad([(0, 10), (12, 20)], window_s=0.1, before_s=0.2, after_s=0.15, duration_s=1.9)
    assert segments == [Segment(0.0, 1.9)]  # clipped at both ends, merged where pads overlap
    split = split_long([Segment(0.0, 3.0)], np.r_[np.ones(20), [0.2], np.ones(9)], 0.1, 2.5)
    assert [(s.start, round(s.end, 3)) for s in split][0] == (0.0, 2.0)  # the dip at 2.0 s
    assert split[1].end == 3.0


def test_speech_ends_at_its_last_window_above_the_start_threshold() -> None:
    # a dip inside the run stays speech; the decay after the last strong window does not
    probs = np.array([0.1, 0.9, 0.4, 0.8, 0.45, 0.4, 0.1])
    spans = runs(hysteresis(probs, on=0.5, off=0.35))
    assert spans == [(1, 6)]
    assert trim_weak_tails(spans, probs >= 0.5) == [(1, 4)]
    options = VadOptions(min_speech_ms=0, min_silence_ms=0, pad_before_ms=0, pad_after_ms=0)
    assert speech_segments(probs, options, window_s=0.1) == [Segment(0.1, 0.4)]


def test_a_burst_before_a_dip_still_joins_the_speech_after_it() -> None:
    # trimming the burst's weak tail first would leave a 3-window gap and drop the 2-window burst
    probs = np.array([0.9, 0.9, 0.4, 0.1, 0.1, 0.9, 0.9, 0.9, 0.4, 0.1])
    options = VadOptions(min_speech_ms=300, min_silence_ms=300, pad_before_ms=0, pad_after_ms=0)
    assert speech_segments(probs, options, window_s=0.1) == [Segment(0.0, 0.8)]


def test_a_word_split_by_a_short_dip_is_not_dropped() -> None:
    probs = np.r_[np.zeros(10), np.ones(5), np.zeros(2), np.ones(5), np.zeros(10)]
    options = VadOptions(min_speech_ms=250, min_silence_ms=100, pad_before_ms=0, pad_after_ms=0)
    segments = speech_segments(probs, options, window_s=0.032)
    assert len(segments) == 1
    assert segments[0].start == pytest.approx(0.32) and segments[0].end == pytest.approx(0.704)


@settings(max_examples=150, deadline=None)
@given(
    probs=st.lists(st.floats(0, 1), max_size=400),
    threshold=st.floats(0.05, 0.95),
    pads=st.tuples(st.integers(0, 300), st.integers(0, 300)),
    min_ms=st.tuples(st.integers(0, 500), st.integers(0, 500)),
    max_speech_s=st.sampled_from([float("inf"), 0.5, 2.0]),
    cut=st.floats(0, 0.031),
)
def test_segments_sorted_disjoint_inside_the_recording(
    probs, threshold, pads, min_ms, max_speech_s, cut
) -> None:
    options = VadOptions(threshold, None, *min_ms, *pads, max_speech_s)
    duration = max(len(probs) * 0.032 - cut, 0.0)
    segments = speech_segments(np.array(probs), options, 0.032, duration)
    for seg in segments:
        assert 0.0 <= seg.start < seg.end <= duration + 1e-9
        assert seg.duration <= max_speech_s + 1e-9
    for a, b in zip(segments, segments[1:], strict=False):
        assert a.end <= b.start + 1e-9


def test_options_are_checked() -> None:
    with pytest.raises(ClassRecError, match="threshold"):
        VadOptions(threshold=1.5)
    with pytest.raises(ClassRecError, match="neg_threshold"):
        VadOptions(threshold=0.5, neg_threshold=0.7)
    with pytest.raises(ClassRecError, match="min_speech_ms"):
        VadOptions(min_speech_ms=-1)
    assert VadOptions(threshold=0.5).off_threshold == pytest.approx(0.35)


def test_segment_sample_helpers() -> None:
    seg = Segment(1.0, 4.55)
    assert seg.to_samples(16000) == (16000, 72800)
    assert Segment.from_samples(16000, 72800, 16000) == seg
    assert seg.as_dict() == {"start": 1.0, "end": 4.55}


def test_lecture_speech_is_found() -> None:
    regions = json.loads((FIXTURES / "lecture.json").read_text())["speech"]
    segments, probs, duration = detect_file(FIXTURES / "lecture.flac")
    assert duration == pytest.approx(9.91, abs=0.001) and len(probs) == 310
    assert_matches_regions(segments, regions, FOUND_S)
    inside = np.zeros(len(probs), bool)
    for start, end in regions:
        inside[round(start / 0.032) + 3 : round(end / 0.032) - 3] = True
    assert np.median(probs[inside]) > 0.9 and np.median(probs[~inside]) < 0.1


@pytest.mark.xfail(
    strict=True,
    reason="the shipped model (v3) starts the second utterance late on this clip (segments "
    "(0.994, 4.576), (6.114, 8.736) vs labels (1.0, 4.55), (6.05, 8.71)); "
    "remove this mark when it is within 50 ms",
)
def test_lecture_segments_within_50_ms_of_the_labels() -> None:
    regions = json.loads((FIXTURES / "lecture.json").read_text())["speech"]
    segments, _, _ = detect_file(FIXTURES / "lecture.flac")
    assert_matches_regions(segments, regions, TOLERANCE_S)


def test_noise_has_no_speech() -> None:
    segments, probs, _ = detect_file(FIXTURES / "noise.flac")
    assert segments == [], f"false alarms: {segments}, max prob {probs.max():.2f}"
