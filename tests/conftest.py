"""Shared fixtures: real audio clips with known speech regions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import BAD, ENCODINGS, LECTURE, ffmpeg

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def lecture() -> tuple[np.ndarray, list[list[float]]]:
    """9.9 s of real speech and room tone at 16 kHz, and its speech regions in seconds."""
    from classrec.audio import load_audio

    regions = json.loads((FIXTURES / "lecture.json").read_text())["speech"]
    return load_audio(FIXTURES / "lecture.flac", 16000), regions


@pytest.fixture(scope="session")
def noise() -> np.ndarray:
    """5.4 s of a dog barking and a door slam at 16 kHz: no speech."""
    from classrec.audio import load_audio

    return load_audio(FIXTURES / "noise.flac", 16000)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The training corpus, where it is checked out beside the project."""
    if not (CORPUS / "manifest.csv").is_file():
        pytest.skip("corpus not found beside the project")
    return CORPUS


@pytest.fixture(scope="session")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The lecture fixture encoded into each format (video ones with a test picture)."""
    folder = tmp_path_factory.getbasetemp() / "encoded"
    folder.mkdir(exist_ok=True)
    out = {}
    for name, (filename, args) in ENCODINGS.items():
        if not (folder / filename).is_file():
            ffmpeg("-i", LECTURE, *args, folder / filename)
        out[name] = folder / filename
    return out


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file for each way an input can be unusable."""
    d = tmp_path_factory.getbasetemp() / "bad"
    if d.is_dir():
        return {name: d / name for name in BAD}
    d.mkdir()
    ffmpeg("-i", LECTURE, "-c:a", "pcm_s16le", d / "good.wav")
    wav = (d / "good.wav").read_bytes()
    flac, files = LECTURE.read_bytes(), {}

    def put(name: str, data: bytes) -> None:
        (d / name).write_bytes(data)
        files[name] = d / name

    put("empty.wav", b"")
    put("text.wav", b"this is a text file renamed to .wav\n" * 20)
    put("truncated.wav", wav[: len(wav) // 3])
    put("truncated.flac", flac[: len(flac) // 2])
    put("unknown-codec.wav", wav[:20] + (0x1234).to_bytes(2, "little") + wav[22:])
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", d / "zero.wav")
    ffmpeg("-f", "lavfi", "-i", "testsrc=d=1:s=64x48", "-an", d / "silent-video.mp4")
    nan = np.full(16000, np.nan, dtype=np.float32).tobytes()
    (d / "nan.raw").write_bytes(nan)
    ffmpeg(
        "-f",
        "f32le",
        "-ar",
        "16000",
        "-ac",
        "1",
        "-i",
        d / "nan.raw",
        "-c:a",
        "pcm_f32le",
        d / "nan.wav",
    )
    ffmpeg("-i", LECTURE, "-c:a", "libmp3lame", d / "full.mp3")
    mp3 = (d / "full.mp3").read_bytes()
    put("truncated.mp3", mp3[: len(mp3) // 2])
    files.update({n: d / n for n in ("zero.wav", "silent-video.mp4", "nan.wav")})
    files["missing.wav"] = d / "missing.wav"
    return files
