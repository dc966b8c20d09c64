"""classrec.detect / classrec.probabilities: any shape, any rate, one answer; pickling."""

from __future__ import annotations

import multiprocessing
import pickle

import numpy as np
import pytest
from helpers import FIXTURES, FOUND_S, assert_matches_regions, lecture_regions

import classrec
from classrec.audio import load_audio
from classrec.errors import ClassRecError
from classrec.model import Detector
from classrec.pipeline import as_mono
from classrec.segments import VadOptions, speech_segments

BOUNDARY_S = 0.07
"""Segment ends may move this much (s) when the same audio comes at another rate: two windows,
as resampling changes the samples the model hears."""


@pytest.fixture(scope="module")
def lecture_16k() -> np.ndarray:
    return load_audio(FIXTURES / "lecture.flac", 16000)


def test_detect_equals_the_steps_it_stands_for(lecture_16k: np.ndarray) -> None:
    segments = classrec.detect(lecture_16k, sample_rate=16000)
    offline = speech_segments(
        Detector().probabilities(lecture_16k, sample_rate=16000), duration_s=9.91
    )
    assert segments == offline
    assert_matches_regions(segments, lecture_regions(), FOUND_S)


def test_every_layout_gives_the_same_segments(lecture_16k: np.ndarray) -> None:
    want = classrec.detect(lecture_16k)
    stereo = np.stack([lecture_16k, lecture_16k], axis=1)  # (n, 2), both channels the same
    for layout in (lecture_16k[None, :], lecture_16k[:, None], stereo, stereo.T):
        assert classrec.detect(layout) == want, layout.shape
    pcm = np.round(lecture_16k * 32767).astype(np.int16)[None, :]
    got = classrec.detect(pcm)
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):  # 16-bit rounding may move an end by a window
        assert abs(a.start - b.start) <= 0.033 and abs(a.end - b.end) <= 0.033


def test_channels_are_averaged(lecture_16k: np.ndarray) -> None:
    stereo = np.stack([lecture_16k, 0.5 * lecture_16k])  # (2, n)
    np.testing.assert_allclose(as_mono(stereo), 0.75 * lecture_16k, atol=1e-6)
    np.testing.assert_allclose(as_mono(stereo.T), 0.75 * lecture_16k, atol=1e-6)
    assert as_mono(lecture_16k[None, :]).shape == lecture_16k.shape


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_any_rate_is_resampled_inside(rate: int, lecture_16k: np.ndarray) -> None:
    samples = load_audio(FIXTURES / "lecture.flac", rate)  # decoded and resampled from the file
    probs = classrec.probabilities(samples, sample_rate=rate)
    reference = Detector().probabilities(lecture_16k, sample_rate=16000)
    assert len(probs) == len(reference)  # 32 ms windows at any rate
    assert np.abs(probs - reference).max() < 0.05  # the same audio, through another resampling
    segments = classrec.detect(samples, sample_rate=rate)
    want = classrec.detect(lecture_16k)
    assert len(segments) == len(want)
    for got, ref in zip(segments, want, strict=True):
        assert abs(got.start - ref.start) <= BOUNDARY_S and abs(got.end - ref.end) <= BOUNDARY_S
    indices = classrec.detect(samples, sample_rate=rate, sample_indices=True)
    assert indices == [seg.to_samples(rate) for seg in segments]
    assert all(0 <= first < stop <= len(samples) for first, stop in indices)


def test_8_khz_runs_the_model_at_8_khz() -> None:
    samples = load_audio(FIXTURES / "lecture.flac", 8000)
    assert len(classrec.probabilities(samples, sample_rate=8000)) == 310
    regions = lecture_regions()
    segments = classrec.detect(samples, sample_rate=8000)
    for seg in segments:  # telephone band: maybe split differently, but only where the speech is
        assert any(a - FOUND_S <= seg.start and seg.end <= b + FOUND_S for a, b in regions), seg
    found = sum(seg.duration for seg in segments)
    assert found >= 0.8 * sum(b - a for a, b in regions)


def test_options_are_used(lecture_16k: np.ndarray) -> None:
    pieces = classrec.detect(lecture_16k, options=VadOptions(max_speech_s=1.0))
    assert len(pieces) > 4 and max(seg.duration for seg in pieces) <= 1.0 + 1e-9
    assert classrec.detect(np.zeros(16000, np.float32)) == []


@pytest.mark.parametrize(
    ("samples", "rate", "message"),
    [
        (np.zeros((2, 2), np.float32), 16000, "cannot tell samples from channels"),
        (np.zeros((100, 100), np.float32), 16000, "cannot tell samples from channels"),
        (np.zeros((2, 3, 100), np.float32), 16000, "1-D or 2-D"),
        (np.zeros(1000, np.float32), 1, "sample_rate must be a whole number of Hz"),
        (np.zeros(1000, np.float32), 44100.5, "sample_rate must be a whole number of Hz"),
        (np.zeros(1000, np.float32), "44100", "sample_rate must be a number of Hz"),
        (np.array([0.0, np.nan]), 16000, "NaN"),
    ],
)
def test_bad_input_is_one_clear_error(samples, rate, message: str) -> None:
    with pytest.raises(ClassRecError, match=message):
        classrec.detect(samples, sample_rate=rate)


def test_detector_refuses_samples_at_another_rate(lecture_16k: np.ndarray) -> None:
    det = Detector()
    with pytest.raises(ClassRecError, match="runs at 16000 Hz, got samples at 44100 Hz"):
        det.probabilities(lecture_16k, sample_rate=44100)
    with pytest.raises(TypeError, match="sample_rate"):
        det.probabilities(lecture_16k)  # the rate is never assumed


# -- pickling ------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numpy", "onnxruntime"])
def test_detector_pickles_mid_stream(backend: str, lecture_16k: np.ndarray) -> None:
    det = Detector(backend=backend)
    whole = det.probabilities(lecture_16k, sample_rate=16000)
    windows = lecture_16k[: 512 * 40].reshape(40, 512)
    first = [det(w) for w in windows[:20]]
    copy = pickle.loads(pickle.dumps(det))  # state carried in the copy
    assert copy.backend == backend
    rest = [copy(w) for w in windows[20:]]
    np.testing.assert_allclose(first + rest, whole[:40], atol=1e-5)
    np.testing.assert_allclose(copy.probabilities(lecture_16k, sample_rate=16000), whole, atol=1e-6)


def _stream_events(stream: classrec.Stream, samples: np.ndarray) -> list[dict]:
    """Push 0.1 s chunks and flush (runs in a worker process, so module level)."""
    events = []
    for i in range(0, len(samples), 1600):
        events += stream.push(samples[i : i + 1600])[1]
    return events + stream.flush()[1]


def test_detector_and_stream_work_in_a_process_pool(lecture_16k: np.ndarray) -> None:
    det = Detector()
    with multiprocessing.get_context("spawn").Pool(2) as pool:  # spawn: everything is pickled
        probs = pool.starmap(classrec.probabilities, [(lecture_16k, 16000, det)] * 2)
        events = pool.starmap(_stream_events, [(classrec.Stream(), lecture_16k)] * 2)
    for p in probs:
        np.testing.assert_allclose(p, det.probabilities(lecture_16k, sample_rate=16000), atol=1e-6)
    want = _stream_events(classrec.Stream(), lecture_16k)
    assert events == [want, want]
    assert len(want) == 2 * len(classrec.detect(lecture_16k))  # a start and an end each
