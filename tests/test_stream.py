"""Live streams: any chunk size gives the whole-file answer, events follow the offline rules."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import soxr
from helpers import FIXTURES, FOUND_S, assert_matches_regions
from hypothesis import given, settings
from hypothesis import strategies as st

from classrec.audio import load_audio
from classrec.errors import ClassRecError
from classrec.model import Detector
from classrec.segments import Segment, VadOptions, speech_segments
from classrec.stream import EventTracker, Stream, shared_detector


@pytest.fixture(scope="module")
def lecture_16k() -> np.ndarray:
    return load_audio(FIXTURES / "lecture.flac", 16000)


def run_stream(stream: Stream, samples: np.ndarray, sizes) -> tuple[np.ndarray, list[dict]]:
    """Push `samples` in chunks of the given sizes (cycled), then flush."""
    probs, events, i = [], [], 0
    sizes = iter(sizes)
    while i < len(samples):
        n = next(sizes)
        p, e = stream.push(samples[i : i + n])
        probs.append(p)
        events += e
        i += n
    p, e = stream.flush()
    return np.concatenate([*probs, p]), events + e


def pairs(events: list[dict]) -> list[tuple[float, float]]:
    starts = [e["start"] for e in events if "start" in e]
    ends = [e["end"] for e in events if "end" in e]
    return list(zip(starts, ends, strict=True))


@pytest.mark.parametrize("rate", [16000, 8000])
def test_random_chunks_equal_whole_file(rate: int) -> None:
    samples = load_audio(FIXTURES / "lecture.flac", rate)
    whole = Detector(rate).probabilities(samples, sample_rate=rate)
    rng = np.random.default_rng(rate)
    for sizes in (
        [rate // 100] * 10**6,
        [rate // 10] * 10**6,
        [rate] * 10**6,
        rng.integers(1, 3 * rate, 10**5),
    ):
        probs, _ = run_stream(Stream(sample_rate=rate), samples, sizes)
        assert probs.shape == whole.shape
        np.testing.assert_allclose(probs, whole, atol=1e-5)


def test_pcm16_bytes_stream(lecture_16k: np.ndarray) -> None:
    pcm = (np.clip(lecture_16k, -1, 1) * 32767).astype("<i2")
    whole = Detector().probabilities(pcm.astype(np.float32) / 32768, sample_rate=16000)
    stream, probs = Stream(), []
    for i in range(0, len(pcm), 333):
        probs.append(stream.push(pcm[i : i + 333].tobytes())[0])
    probs.append(stream.flush()[0])
    np.testing.assert_allclose(np.concatenate(probs), whole, atol=1e-5)


def test_independent_streams_share_one_detector(lecture_16k: np.ndarray) -> None:
    noise = load_audio(FIXTURES / "noise.flac", 16000)
    a, b = Stream(), Stream()
    assert a.detector is b.detector is shared_detector(16000)
    got_a, got_b = [], []
    for i in range(0, max(len(lecture_16k), len(noise)), 1600):  # interleaved pushes
        got_a.append(a.push(lecture_16k[i : i + 1600])[0])
        got_b.append(b.push(noise[i : i + 1600])[0])
    got_a.append(a.flush()[0])
    got_b.append(b.flush()[0])
    det = Detector()
    np.testing.assert_allclose(
        np.concatenate(got_a), det.probabilities(lecture_16k, sample_rate=16000), atol=1e-5
    )
    np.testing.assert_allclose(
        np.concatenate(got_b), det.probabilities(noise, sample_rate=16000), atol=1e-5
    )


@settings(max_examples=300, deadline=None)
@given(
    probs=st.lists(st.floats(0, 1), max_size=300),
    threshold=st.floats(0.1, 0.9),
    pads=st.tuples(st.integers(0, 250), st.integers(0, 250)),
    min_ms=st.tuples(st.integers(0, 400), st.integers(0, 400)),
    chunk=st.integers(1, 40),
    cut=st.floats(0, 0.031),
    max_speech_s=st.sampled_from([float("inf"), 0.05, 0.3, 1.0, 2.0]),
)
def test_events_equal_offline_segments(probs, threshold, pads, min_ms, chunk, cut, max_speech_s):
    options = VadOptions(threshold, None, *min_ms, *pads, max_speech_s)
    probs = np.array(probs, dtype=np.float32)
    duration = max(len(probs) * 0.032 - cut, 0.0)
    tracker, events = EventTracker(options, 0.032), []
    for i in range(0, len(probs), chunk):
        events += tracker.feed(probs[i : i + chunk], duration)
    events += tracker.finish(duration)
    offline = [(s.start, s.end) for s in speech_segments(probs, options, 0.032, duration)]
    np.testing.assert_allclose(np.array(pairs(events)).reshape(-1, 2), np.reshape(offline, (-1, 2)))


def test_events_come_as_soon_as_decided() -> None:
    options = VadOptions(min_speech_ms=96, min_silence_ms=96, pad_before_ms=0, pad_after_ms=0)
    tracker = EventTracker(options, 0.032)
    assert tracker.feed(np.array([0.0, 0.9, 0.9])) == []
    assert tracker.feed(np.array([0.9])) == [{"start": pytest.approx(0.032)}]  # 3 windows long
    assert tracker.feed(np.array([0.0, 0.0])) == []
    assert tracker.feed(np.array([0.0])) == [{"end": pytest.approx(0.128)}]  # pause of 3 windows


def test_closed_stream_refuses_more_audio() -> None:
    stream = Stream()
    stream.push(np.zeros(100, dtype=np.float32))
    stream.close()
    with pytest.raises(ClassRecError, match="closed"):
        stream.push(np.zeros(100, dtype=np.float32))
    stream.reset()
    assert stream.push(np.zeros(1024, dtype=np.float32))[0].shape == (2,)
    with pytest.raises(ClassRecError, match="NaN"):
        stream.push(np.array([np.nan], dtype=np.float32))


def test_live_events_find_the_lecture_speech(lecture_16k: np.ndarray) -> None:
    regions = json.loads((FIXTURES / "lecture.json").read_text())["speech"]
    _, events = run_stream(Stream(), lecture_16k, [480] * 10**6)  # 30 ms chunks
    found = [Segment(a, b) for a, b in pairs(events)]
    assert_matches_regions(found, regions, FOUND_S)
    offline = speech_segments(
        Detector().probabilities(lecture_16k, sample_rate=16000),
        duration_s=len(lecture_16k) / 16000,
    )
    assert [(round(s.start, 6), round(s.end, 6)) for s in found] == [
        (round(s.start, 6), round(s.end, 6)) for s in offline
    ]


def test_multichannel_chunks_keep_every_sample(lecture_16k: np.ndarray) -> None:
    whole = Detector().probabilities(lecture_16k, sample_rate=16000)
    stereo = np.stack([lecture_16k, lecture_16k], axis=1)  # (n, 2)
    layouts = {
        "(1, n)": lambda i, j: lecture_16k[None, i:j],
        "(n, 2)": lambda i, j: stereo[i:j],
        "(2, n)": lambda i, j: stereo[i:j].T,
    }
    for name, chunk in layouts.items():
        stream, probs = Stream(), []
        for i in range(0, len(lecture_16k), 1601):
            probs.append(stream.push(chunk(i, i + 1601))[0])
        probs.append(stream.flush()[0])
        assert stream.time == pytest.approx(len(lecture_16k) / 16000), name
        np.testing.assert_allclose(np.concatenate(probs), whole, atol=1e-5, err_msg=name)


def test_a_short_stereo_chunk_follows_the_streams_layout() -> None:
    stream = Stream()
    stream.push(np.zeros((1000, 2), np.float32))
    stream.push(np.zeros((2, 2), np.float32))  # ambiguous alone; (n, 2) like the first chunk
    assert stream.time == pytest.approx(1002 / 16000)
    with pytest.raises(ClassRecError, match="cannot tell samples from channels"):
        Stream().push(np.zeros((2, 2), np.float32))


@pytest.mark.parametrize("chunk", [480, 4800, 1013])
def test_input_rate_keeps_one_resampler(chunk: int) -> None:
    samples = load_audio(FIXTURES / "lecture.flac", 48000)
    whole = Detector().probabilities(
        soxr.resample(samples, 48000, 16000).astype(np.float32), sample_rate=16000
    )
    probs, events = run_stream(Stream(input_rate=48000), samples, [chunk] * 10**6)
    assert probs.shape == whole.shape
    np.testing.assert_allclose(probs, whole, atol=1e-4)  # measured: 1.1e-6
    offline = speech_segments(whole, duration_s=len(samples) / 48000)
    assert pairs(events) == [(s.start, s.end) for s in offline]


def test_max_speech_s_splits_live_speech_like_the_file(lecture_16k: np.ndarray) -> None:
    options = VadOptions(max_speech_s=1.0)
    _, events = run_stream(Stream(options), lecture_16k, [480] * 10**6)
    offline = speech_segments(
        Detector().probabilities(lecture_16k, sample_rate=16000),
        options,
        duration_s=len(lecture_16k) / 16000,
    )
    assert len(offline) > 4 and max(s.duration for s in offline) <= 1.0 + 1e-9
    assert pairs(events) == [(s.start, s.end) for s in offline]


def test_event_times_are_on_the_window_grid(lecture_16k: np.ndarray) -> None:
    options = VadOptions(pad_before_ms=30, pad_after_ms=50)
    _, events = run_stream(Stream(options), lecture_16k, [480] * 10**6)
    times = [t for e in events for t in e.values()]
    assert times and all(t == round(t, 6) for t in times)  # 0.962, not 0.9620000000000001
    for t in times:  # a window edge (k × 32 ms) moved by a padding
        edge = t + 0.03 if t in [e.get("start") for e in events] else t - 0.05
        assert abs(edge / 0.032 - round(edge / 0.032)) < 1e-6 or t == len(lecture_16k) / 16000


def test_stream_pickles(lecture_16k: np.ndarray) -> None:
    whole, want = run_stream(Stream(), lecture_16k, [1600] * 10**6)
    stream = Stream()
    first = [stream.push(lecture_16k[i : i + 1600]) for i in range(0, 48000, 1600)]
    copy = pickle.loads(pickle.dumps(stream))  # mid-stream, at the model rate: exact
    assert copy.detector is shared_detector(16000)  # not a copy of the weights
    probs, events = run_stream(copy, lecture_16k[48000:], [1600] * 10**6)
    np.testing.assert_allclose(np.concatenate([p for p, _ in first] + [probs]), whole, atol=1e-6)
    assert [e for _, es in first for e in es] + events == want

    resampling = Stream(input_rate=48000)
    fresh = pickle.loads(pickle.dumps(resampling))
    got, _ = run_stream(fresh, np.zeros(4800, np.float32), [4800])
    assert fresh.input_rate == 48000 and got.shape == (4,)  # 0.1 s at 16 kHz: 1600 samples
    resampling.push(np.zeros(4800, np.float32))
    with pytest.raises(ClassRecError, match="cannot be pickled once audio was pushed"):
        pickle.dumps(resampling)


def test_a_live_split_waits_for_the_windows_it_chooses_from() -> None:
    # speech for 30 windows (0.96 s), then a dip: offline, a 1 s limit cuts at the dip (window
    # 30, just after the run), which a stream has not seen when the padded run passes 1 s
    probs = np.r_[np.ones(30), [0.3], np.zeros(20)].astype(np.float32)
    options = VadOptions(0.5, None, 0, 0, 0, 250, max_speech_s=1.0)
    offline = speech_segments(probs, options, 0.032)
    assert offline[0].end == pytest.approx(0.96)
    tracker, events = EventTracker(options, 0.032), []
    for p in probs:
        events += tracker.feed(np.array([p]))
    events += tracker.finish(len(probs) * 0.032)
    assert pairs(events) == [(s.start, s.end) for s in offline]
