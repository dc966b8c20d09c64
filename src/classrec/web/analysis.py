"""Offline work on a stored lecture: probabilities, speech regions, summary figures.

Uploads and crash recovery use it; live recordings produce the same per-window probabilities
incrementally (live.py), so both kinds of lecture are read back the same way.
"""

from __future__ import annotations

import wave
from functools import lru_cache
from pathlib import Path

import numpy as np

from classrec.audio import iter_blocks
from classrec.model import Detector
from classrec.segments import Segment, VadOptions, speech_segments
from classrec.web import storage
from classrec.web.storage import LectureFiles

WINDOW_S = 0.032
WINDOW_SAMPLES = 512


@lru_cache(maxsize=1)
def detector() -> Detector:
    """One shared detector: `probabilities` and `step` keep no state of their own, so threads
    can share it."""
    return Detector(sample_rate=storage.SAMPLE_RATE)


def lecture_segments(probs: np.ndarray, duration_s: float) -> list[Segment]:
    return speech_segments(probs, VadOptions(), window_s=WINDOW_S, duration_s=duration_s)


def speech_ratio(probs: np.ndarray, duration_s: float) -> float:
    if duration_s <= 0:
        return 0.0
    speech = sum(s.end - s.start for s in lecture_segments(probs, duration_s))
    return min(1.0, speech / duration_s)


def analyse_samples(samples: np.ndarray, files: LectureFiles) -> tuple[float, float]:
    """Probabilities for `samples`, stored next to the audio; returns (duration s, speech ratio)."""
    probs = detector().probabilities(samples)
    probs.astype("<f4").tofile(files.probs)
    duration = len(samples) / storage.SAMPLE_RATE
    return duration, speech_ratio(probs, duration)


def process_upload(source: Path, files: LectureFiles) -> tuple[float, float]:
    """Decode an uploaded file (this is the content check) block by block, so memory stays
    bounded: each block goes to the 16 kHz WAV and through the detector with its state carried
    (blocks are whole windows, so the result equals a whole-file pass). Returns (duration, ratio).
    """
    det, total, parts = detector(), 0, []
    state = det.initial_state(1)
    block = WINDOW_SAMPLES * 1875  # 60 s
    with wave.open(str(files.audio), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(storage.SAMPLE_RATE)
        for samples in iter_blocks(source, storage.SAMPLE_RATE, block):
            out.writeframes(storage.to_pcm16(samples).tobytes())
            parts.append(det.probabilities(samples, state))
            total += len(samples)
    probs = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    probs.astype("<f4").tofile(files.probs)
    duration = total / storage.SAMPLE_RATE
    return duration, speech_ratio(probs, duration)


def recover(files: LectureFiles) -> tuple[float, float]:
    """Make a recording cut off by a crash playable and analysed; returns (duration, ratio)."""
    if not files.audio.is_file():
        storage.start_wav(files.audio)
    storage.fix_wav_header(files.audio)
    return analyse_samples(storage.read_pcm(files.audio), files)
