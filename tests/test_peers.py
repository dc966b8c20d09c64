"""Peer VADs: each scores speech above silence on the fixture, streaming matches whole-file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classrec import ClassRecError
from classrec.audio import load_audio
from classrec.lab.peers import PEERS, WINDOW, load_peer

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def lecture() -> tuple[np.ndarray, np.ndarray]:
    """The speech fixture and a boolean speech mask per 32 ms window (window centre inside)."""
    samples = load_audio(FIXTURES / "lecture.flac", 16000)
    regions = json.loads((FIXTURES / "lecture.json").read_text())["speech"]
    centres = (np.arange(-(-len(samples) // WINDOW)) * WINDOW + WINDOW / 2) / 16000
    speech = np.zeros(len(centres), dtype=bool)
    for start, end in regions:
        speech |= (centres >= start) & (centres < end)
    return samples, speech


def _peer_or_skip(name: str):
    try:
        return load_peer(name)
    except ClassRecError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("name", sorted(PEERS))
def test_peer_scores_speech_above_silence(name, lecture):
    samples, speech = lecture
    probs = _peer_or_skip(name).probabilities(samples)
    assert probs.shape == speech.shape and probs.dtype == np.float32
    assert ((probs >= 0) & (probs <= 1)).all()
    assert probs[speech].mean() > probs[~speech].mean() + 0.3


@pytest.mark.parametrize("name", sorted(PEERS))
def test_streaming_matches_whole_file(name, lecture):
    samples = lecture[0][: 40 * WINDOW + 100]  # ends in a partial window: zero-padded
    peer = _peer_or_skip(name)
    whole = peer.probabilities(samples)
    padded = np.zeros(len(whole) * WINDOW, dtype=np.float32)
    padded[: len(samples)] = samples
    stream = peer.streaming()
    streamed = [stream(w) for w in padded.reshape(-1, WINDOW)]
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_missing_package_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "webrtcvad", None)  # makes `import webrtcvad` fail
    with pytest.raises(ClassRecError, match="webrtcvad-wheels"):
        load_peer("webrtc")


def test_unknown_peer_and_bad_window():
    with pytest.raises(ClassRecError, match="unknown peer"):
        load_peer("nope")
    try:
        stream = load_peer("webrtc").streaming()
    except ClassRecError:
        pytest.skip("webrtcvad-wheels not installed")
    with pytest.raises(ClassRecError, match="512"):
        stream(np.zeros(100, dtype=np.float32))


def test_importing_classrec_needs_no_peer_package():
    code = (
        "import sys, classrec, classrec.lab.peers; "
        "bad = {'onnxruntime', 'ten_vad', 'webrtcvad', 'torch'} & set(sys.modules); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
