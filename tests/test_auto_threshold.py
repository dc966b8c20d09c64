"""threshold="auto": the rule, causality, the same result live and whole-file, CLI and errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FIXTURES, FOUND_S, assert_matches_regions, lecture_regions

from classrec import auto_threshold as auto
from classrec.auto_threshold import AutoThreshold
from classrec.cli import main
from classrec.errors import ClassRecError
from classrec.model import Detector
from classrec.outputs import parse_segments
from classrec.pipeline import detect_file
from classrec.segments import VadOptions, speech_segments
from classrec.stream import Stream

LECTURE = FIXTURES / "lecture.flac"
WARMUP = int(np.ceil(auto.WARMUP_S / 0.032))


def test_starts_at_the_fixed_default_until_enough_speech() -> None:
    probs = np.r_[np.zeros(500), np.ones(WARMUP - 1)]
    assert np.all(AutoThreshold().thresholds(probs) == auto.START)


def test_sure_speech_raises_it_and_unsure_speech_lowers_it() -> None:
    sure = AutoThreshold().thresholds(np.full(WARMUP + 20, 0.999))
    unsure = AutoThreshold().thresholds(np.full(WARMUP + 20, 0.62))
    # 0.5 + 2 × (0.995 − 0.95): the bin middle of 0.999 is 0.995
    assert sure[-1] == pytest.approx(0.59, abs=1e-9)
    assert unsure[-1] == auto.LOWEST  # 0.5 + 2 × (0.625 − 0.95) is below the floor
    first_move = int(np.flatnonzero(sure != auto.START)[0])
    assert WARMUP <= first_move <= WARMUP + 5  # the count decays a little meanwhile


def test_never_looks_ahead() -> None:
    rng = np.random.default_rng(0)
    probs = rng.random(3000)
    whole = AutoThreshold().thresholds(probs)
    for k in (1, 200, 1777):
        assert np.array_equal(AutoThreshold().thresholds(probs[:k]), whole[:k])
    pieces = AutoThreshold()
    chunked = np.concatenate([pieces.thresholds(c) for c in np.array_split(probs, 37)])
    assert np.array_equal(chunked, whole)


def test_old_audio_fades() -> None:
    """After minutes of unsure speech, sure speech brings the threshold back up."""
    tracker = AutoThreshold()
    tracker.thresholds(np.full(3000, 0.62))
    later = tracker.thresholds(np.full(int(4 * auto.MEMORY_S / 0.032), 0.999))
    assert later[0] == auto.LOWEST and later[-1] == pytest.approx(0.59, abs=0.01)


def test_end_threshold_follows_the_start_threshold() -> None:
    probs = np.full(WARMUP + 20, 0.999)
    on, off = AutoThreshold().on_off(probs)
    assert np.allclose(off, on - auto.HYSTERESIS)
    on, off = AutoThreshold().on_off(probs, neg_threshold=0.55)
    assert np.all(off == np.minimum(0.55, on)) and off[0] == 0.5 and off[-1] == 0.55


def test_options_accept_auto_and_refuse_other_words() -> None:
    assert VadOptions(threshold="auto").threshold == "auto"
    assert VadOptions(threshold="auto", neg_threshold=0.2).neg_threshold == 0.2
    with pytest.raises(ClassRecError, match="or 'auto'"):
        VadOptions(threshold="automatic")
    with pytest.raises(ClassRecError, match="neg_threshold"):
        VadOptions(threshold="auto", neg_threshold=1.5)


def test_finds_the_lecture_regions() -> None:
    segments, _, _ = detect_file(LECTURE, VadOptions(threshold="auto"))
    assert_matches_regions(segments, lecture_regions(), FOUND_S)


def test_live_stream_gives_the_whole_file_segments(corpus) -> None:
    """Real recordings (split=dev) pushed in irregular chunks: the same segments as the file."""
    from classrec.lab.benchmark import dev_set

    samples = np.concatenate([r.samples for r in dev_set(corpus)[:8]])
    options = VadOptions(threshold="auto")
    probs = Detector().probabilities(samples, sample_rate=16000)
    want = speech_segments(probs, options, duration_s=len(samples) / 16000)
    stream, events, i = Stream(options), [], 0
    rng = np.random.default_rng(1)
    while i < len(samples):
        n = int(rng.integers(100, 9000))
        events += stream.push(samples[i : i + n])[1]
        i += n
    events += stream.flush()[1]
    starts = [e["start"] for e in events if "start" in e]
    ends = [e["end"] for e in events if "end" in e]
    assert len(want) > 20
    assert [(s.start, s.end) for s in want] == pytest.approx(list(zip(starts, ends, strict=True)))


def test_cli_threshold_auto(capsys) -> None:
    assert main(["detect", str(LECTURE), "--threshold", "auto"]) == 0
    found = parse_segments(capsys.readouterr().out, "json")
    want = detect_file(LECTURE, VadOptions(threshold="auto"))[0]
    assert [(s.start, s.end) for s in found] == [(round(s.start, 3), round(s.end, 3)) for s in want]


def test_cli_refuses_a_word_that_is_not_auto(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["detect", str(LECTURE), "--threshold", "loud"])
    assert exc.value.code == 2
    assert "expected a number or 'auto'" in capsys.readouterr().err
