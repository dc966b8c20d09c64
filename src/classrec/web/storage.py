"""Where a lecture's files live and how its WAV stays playable while it grows.

Layout: `<data>/lectures/<lecture id>/` holds `audio.wav` (16 kHz mono PCM16, what the player
gets), `probs.f32` (one float32 speech probability per 32 ms window) and, for uploads,
`original.bin` (the uploaded bytes). Ids are made by the server, so no user text reaches a path.
"""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classrec.features import SAMPLE_RATE  # the stored WAV is at the model's rate: analysed as is

HEADER_BYTES = 44


@dataclass(frozen=True)
class LectureFiles:
    root: Path

    @classmethod
    def of(cls, lectures_dir: Path, lecture_id: str) -> LectureFiles:
        if not lecture_id.isalnum():  # ids are uuid hex; anything else is a bug, not a path
            raise ValueError(f"bad lecture id {lecture_id!r}")
        return cls(lectures_dir / lecture_id)

    @property
    def audio(self) -> Path:
        return self.root / "audio.wav"

    @property
    def probs(self) -> Path:
        return self.root / "probs.f32"

    @property
    def original(self) -> Path:
        return self.root / "original.bin"

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def wav_header(data_bytes: int) -> bytes:
    """The 44-byte RIFF header of a 16 kHz mono PCM16 file with `data_bytes` of samples."""
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, 1,
        SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16, b"data", data_bytes,
    )  # fmt: skip


def start_wav(path: Path) -> None:
    """Create an empty growing WAV; its sizes are fixed by `fix_wav_header` when it stops."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(wav_header(0))
        f.flush()
        os.fsync(f.fileno())


def fix_wav_header(path: Path) -> int:
    """Make a grown (or crashed) WAV valid: drop a half sample, write true sizes; returns bytes."""
    size = path.stat().st_size
    data = max(0, size - HEADER_BYTES)
    with open(path, "r+b") as f:
        if data % 2:
            data -= 1
            f.truncate(HEADER_BYTES + data)
        f.seek(0)
        f.write(wav_header(data))
        f.flush()
        os.fsync(f.fileno())
    return data


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] → little-endian int16; exact inverse of the decoder's x / 32768,
    so 16-bit uploads are stored bit for bit."""
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2")


def read_probs(path: Path) -> np.ndarray:
    return np.fromfile(path, dtype="<f4") if path.is_file() else np.zeros(0, np.float32)


def used_bytes(lectures_dir: Path, lecture_ids: list[str]) -> int:
    """Bytes stored for these lectures (every file of each folder): what a quota counts."""
    total = 0
    for lecture_id in lecture_ids:
        root = LectureFiles.of(lectures_dir, lecture_id).root
        if root.is_dir():
            total += sum(f.stat().st_size for f in root.iterdir() if f.is_file())
    return total


def free_bytes(path: Path) -> int:
    """Free disk space where lectures are stored (shown while recording)."""
    return shutil.disk_usage(path).free
