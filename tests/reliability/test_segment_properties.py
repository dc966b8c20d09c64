"""Segmentation under any probability sequence and any valid options: the contract each option
promises, beyond tests/test_segments.py (which checks order and bounds for default-like options).

Probabilities include NaN, negative and > 1 values (a broken model must not break segmentation);
options span every valid combination, and invalid ones must be one ClassRecError.
"""

from __future__ import annotations

import math

import numpy as np
from conftest import report
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from classrec.errors import ClassRecError
from classrec.segments import Segment, VadOptions, speech_segments

EPS = 1e-6
EXAMPLES = {"valid": 0, "invalid": 0}

probabilities = st.lists(
    st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, float("nan"), -0.5, 1.5])),
    max_size=300,
)


@st.composite
def valid_options(draw: st.DrawFn) -> VadOptions:
    threshold = draw(st.floats(0.01, 0.99))
    neg = draw(st.one_of(st.none(), st.floats(0, threshold)))
    ms = st.integers(0, 1000)
    max_speech = draw(st.sampled_from([math.inf, 0.01, 0.1, 0.5, 1.0, 3.0]))
    return VadOptions(threshold, neg, draw(ms), draw(ms), draw(ms), draw(ms), max_speech)


def chains(segments: list[Segment]) -> list[tuple[float, float]]:
    """Touching pieces (what `max_speech_s` splitting makes) joined back into one stretch."""
    out: list[tuple[float, float]] = []
    for seg in segments:
        if out and abs(seg.start - out[-1][1]) < EPS:
            out[-1] = (out[-1][0], seg.end)
        else:
            out.append((seg.start, seg.end))
    return out


@hsettings(max_examples=300, deadline=None)
@given(probs=probabilities, options=valid_options(), window_s=st.sampled_from([0.016, 0.032]))
def test_every_option_is_respected(
    probs: list[float], options: VadOptions, window_s: float
) -> None:
    duration = len(probs) * window_s
    segments = speech_segments(np.array(probs, np.float32), options, window_s, duration)
    before, after = options.pad_before_ms / 1000, options.pad_after_ms / 1000
    for seg in segments:  # inside the audio, never longer than max_speech_s
        assert 0 <= seg.start < seg.end <= duration + EPS
        assert seg.duration <= options.max_speech_s + EPS
    for a, b in zip(segments, segments[1:], strict=False):  # sorted, non-overlapping
        assert a.end <= b.start + EPS
    stretches = chains(segments)
    min_speech = options.min_speech_ms / 1000
    for start, end in stretches:  # min speech: the unpadded run was long enough
        assert end - start >= min_speech - EPS
        if start > 0 and end < duration - EPS:  # not clipped: padding is exactly added
            assert end - start - before - after >= min_speech - EPS
    for (_, end), (start, _) in zip(stretches, stretches[1:], strict=False):
        silence = start - end + before + after  # the pause between the unpadded runs
        assert silence >= options.min_silence_ms / 1000 - EPS
        assert start - end > 0  # padding never makes neighbours touch
    EXAMPLES["valid"] += 1
    report("segmentation properties", **EXAMPLES)


@hsettings(max_examples=200, deadline=None)
@given(probs=probabilities, options=valid_options())
def test_padding_is_exact_and_confident_speech_is_kept(
    probs: list[float], options: VadOptions
) -> None:
    """Without dropping or splitting, every window at or above the threshold is inside a
    segment, and every boundary is a window edge moved by exactly the padding (or clipped)."""
    options = VadOptions(
        options.threshold, options.neg_threshold, 0, options.min_silence_ms,
        options.pad_before_ms, options.pad_after_ms,
    )  # fmt: skip
    window_s = 0.032
    duration = len(probs) * window_s
    segments = speech_segments(np.array(probs, np.float32), options, window_s, duration)
    for i, p in enumerate(probs):
        if p >= options.threshold:
            assert any(s.start <= i * window_s + EPS and (i + 1) * window_s <= s.end + EPS
                       for s in segments), (i, segments)  # fmt: skip
    before, after = options.pad_before_ms / 1000, options.pad_after_ms / 1000
    for seg in segments:
        assert seg.start == 0 or _on_grid(seg.start + before, window_s)
        assert abs(seg.end - duration) < EPS or _on_grid(seg.end - after, window_s)
    EXAMPLES["valid"] += 1


def _on_grid(t: float, window_s: float) -> bool:
    return abs(t / window_s - round(t / window_s)) < 1e-4


@hsettings(max_examples=200, deadline=None)
@given(
    threshold=st.floats(allow_nan=True, allow_infinity=True),
    neg=st.one_of(st.none(), st.floats(allow_nan=True)),
    ms=st.lists(st.integers(-10_000, 10_000), min_size=4, max_size=4),
    max_speech=st.floats(allow_nan=True),
)
def test_any_options_are_valid_or_one_clear_error(threshold, neg, ms, max_speech) -> None:  # noqa: ANN001
    try:
        options = VadOptions(threshold, neg, *ms, max_speech)
    except ClassRecError as exc:
        assert "\n" not in str(exc)
        EXAMPLES["invalid"] += 1
    else:
        speech_segments(np.array([0.0, 0.9, 0.9, 0.1] * 20, np.float32), options)
        EXAMPLES["valid"] += 1
    report("segmentation properties", **EXAMPLES)
