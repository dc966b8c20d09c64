"""The speech packages of `--multilingual 2`: which files are speech, and raw G.722 decoding.

A package already unpacked (its folder holds `.done`) is read as it is, so these tests build
small packages of real encoded files instead of downloading them.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from classrec.errors import ClassRecError
from classrec.train import packages

RATE = 16000


def _tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _encode(path: Path, audio: np.ndarray, fmt: str, codec: str) -> None:
    """Write `audio` (16 kHz mono) with a real encoder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=RATE, layout="mono")
        pcm = (audio * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _unpacked(cache: Path, name: str) -> Path:
    root = cache / name
    root.mkdir(parents=True)
    (root / ".done").touch()
    return root


def test_raw_g722_prompts_decode_at_16k_and_an_empty_one_is_an_error(tmp_path):
    tone = _tone(1.0)
    _encode(tmp_path / "hello.g722", tone, "g722", "g722")
    audio = packages._load_speech(tmp_path / "hello.g722")
    assert abs(len(audio) - len(tone)) < RATE // 50
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * RATE / len(audio) - 440) < 5  # the tone, not noise
    (tmp_path / "empty.g722").write_bytes(b"")
    with pytest.raises(ClassRecError, match="empty.g722"):
        packages._load_speech(tmp_path / "empty.g722")


def test_only_the_spoken_files_of_each_package_are_taken(tmp_path):
    fillets = _unpacked(tmp_path, "fillets-ng-data-cs")
    _encode(fillets / "sound/city/cs/line-1.ogg", _tone(0.5), "ogg", "libopus")
    _encode(fillets / "sound/city/cs/line-2.ogg", _tone(0.5, 300), "ogg", "libopus")
    _encode(fillets / "music/theme.ogg", _tone(0.5), "ogg", "libopus")  # not spoken
    asterisk = _unpacked(tmp_path, "asterisk-core-sounds-it-g722")
    _encode(asterisk / "sounds/it/vm-intro.g722", _tone(0.5), "g722", "g722")
    (asterisk / "sounds/it/broken.g722").write_bytes(b"")  # skipped, not fatal
    which = (
        packages.Package("fillets-ng-data-cs", "speech", "GPL-2"),
        packages.Package("asterisk-core-sounds-it-g722", "speech", "CC-BY-SA-3.0"),
    )
    found = packages.speech(tmp_path, 0, which)
    assert sorted(name for name, _ in found) == [
        "sound:city:cs:line-1.ogg",
        "sound:city:cs:line-2.ogg",
        "sounds:it:vm-intro.g722",
    ]
    assert all(audio.dtype == np.float32 and len(audio) > 0.4 * RATE for _, audio in found)
    again = packages.speech(tmp_path, 0, which)  # from the cache, the same audio
    assert [n for n, _ in again] == [n for n, _ in found]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(again, found, strict=True))
