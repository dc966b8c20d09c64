"""The speech packages of `--multilingual 2`: which files are speech, and raw G.722 decoding.

A package already unpacked (its folder holds `.done`) is read as it is, so these tests build
small packages of real encoded files instead of downloading them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import ffmpeg

from classrec.errors import ClassRecError
from classrec.train import packages

RATE = 16000


def _tone(path: Path, seconds: float = 0.5, hz: int = 440, codec: str = "libopus") -> Path:
    """A 16 kHz tone in a real file: Opus in Ogg, or raw G.722 (`codec="g722"`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sine = f"sine=f={hz}:d={seconds}:r={RATE}"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        sine,
        "-ac",
        "1",
        "-c:a",
        codec,
        *(["-f", "g722"] if codec == "g722" else []),
        path,
    )
    return path


def _unpacked(cache: Path, name: str) -> Path:
    root = cache / name
    root.mkdir(parents=True)
    (root / ".done").touch()
    return root


def test_raw_g722_prompts_decode_at_16k_and_an_empty_one_is_an_error(tmp_path):
    audio = packages._load_speech(_tone(tmp_path / "hello.g722", 1.0, codec="g722"))
    assert abs(len(audio) - RATE) < RATE // 50
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * RATE / len(audio) - 440) < 5  # the tone, not noise
    (tmp_path / "empty.g722").write_bytes(b"")
    with pytest.raises(ClassRecError, match="empty.g722"):
        packages._load_speech(tmp_path / "empty.g722")


def test_only_the_spoken_files_of_each_package_are_taken(tmp_path):
    fillets = _unpacked(tmp_path, "fillets-ng-data-cs")
    _tone(fillets / "sound/city/cs/line-1.ogg")
    _tone(fillets / "sound/city/cs/line-2.ogg", hz=300)
    _tone(fillets / "music/theme.ogg")  # not spoken
    asterisk = _unpacked(tmp_path, "asterisk-core-sounds-it-g722")
    _tone(asterisk / "sounds/it/vm-intro.g722", codec="g722")
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


def test_tux_paint_descriptions_filed_under_two_stamps_count_once_but_other_packages_keep_both(
    tmp_path,
):
    """The default recipe's real voices are v3's: a description filed in two stamp folders is one
    utterance; an Asterisk prompt name reused in two folders is two prompts."""
    tux = _unpacked(tmp_path, packages.SPEECH_PACKAGE.name)
    for folder in ("animals/insects", "seasonal/easter"):
        _tone(tux / f"stamps/{folder}/butterfly_desc_be.ogg")
    _tone(tux / "stamps/animals/cat_desc_fr.ogg", hz=300)
    _tone(tux / "stamps/animals/cat.ogg", hz=200)  # the stamp's sound effect, not spoken
    asterisk = _unpacked(tmp_path, "asterisk-core-sounds-es-g722")
    for folder in ("digits", "letters"):
        _tone(asterisk / f"{folder}/minutes.g722", codec="g722")
    which = (packages.SPEECH_PACKAGE, packages.Package(asterisk.name, "speech", "CC-BY-SA-3.0"))
    names = sorted(name for name, _ in packages.speech(tmp_path, 0, which))
    assert names == [
        "butterfly_desc_be.ogg",
        "cat_desc_fr.ogg",
        "digits:minutes.g722",
        "letters:minutes.g722",
    ]
