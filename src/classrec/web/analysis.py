"""Offline work on a stored lecture: probabilities, speech regions, summary figures.

Uploads and crash recovery use it; live recordings produce the same per-window probabilities
incrementally (live.py), so both kinds of lecture are read back the same way.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from classrec.audio import iter_blocks
from classrec.errors import ClassRecError
from classrec.model import Detector, State
from classrec.segments import Segment, VadOptions, speech_segments
from classrec.web import storage
from classrec.web.config import Settings
from classrec.web.storage import LectureFiles

WINDOW_S = 0.032
WINDOW_SAMPLES = 512
EXPANSION_FLOOR_S = 600
"""Any upload may decode to this many seconds, whatever its size (a short clip in a tiny file)."""
DEFAULT_OPTIONS = VadOptions()
"""Segmentation for a user with no preset (web.presets)."""


class TooMuchAudio(ClassRecError):
    """An upload that decodes to more audio than its limits allow (answered 413)."""


@dataclass(frozen=True)
class DecodeLimit:
    """The most 16 kHz samples an upload may decode to, and what to tell the user if it does."""

    samples: int
    reason: str


def upload_limit(settings: Settings, upload_bytes: int, quota_left: int) -> DecodeLimit:
    """The tightest of: the duration limit, `max_expansion` times the uploaded size (so a
    72 kB file of compressed silence stops after seconds, not hours) and the user's quota."""
    rate = storage.SAMPLE_RATE
    expansion = max(EXPANSION_FLOOR_S * rate, settings.max_expansion * upload_bytes // 2)
    limits = [
        DecodeLimit(
            settings.max_upload_minutes * 60 * rate,
            f"the recording is longer than the {settings.max_upload_minutes} min upload limit",
        ),
        DecodeLimit(
            expansion,
            f"the file decodes to over {settings.max_expansion}x its size "
            f"(more than {expansion / rate / 60:.0f} min): not a plausible recording",
        ),
        DecodeLimit(
            max(0, quota_left) // 2,
            f"your {settings.user_quota_mb} MB of storage would be full: delete lectures first",
        ),
    ]
    return min(limits, key=lambda limit: limit.samples)


@lru_cache(maxsize=1)
def detector() -> Detector:
    """One shared detector: `probabilities` and `step` keep no state of their own, so threads
    can share it."""
    return Detector(sample_rate=storage.SAMPLE_RATE)


def lecture_segments(
    probs: np.ndarray, duration_s: float, options: VadOptions = DEFAULT_OPTIONS
) -> list[Segment]:
    """Speech regions of a lecture; `options` are its owner's (crud.segment_options)."""
    return speech_segments(probs, options, window_s=WINDOW_S, duration_s=duration_s)


def speech_ratio(
    probs: np.ndarray, duration_s: float, options: VadOptions = DEFAULT_OPTIONS
) -> float:
    if duration_s <= 0:
        return 0.0
    speech = sum(s.end - s.start for s in lecture_segments(probs, duration_s, options))
    return min(1.0, speech / duration_s)


def process_upload(
    source: Path,
    files: LectureFiles,
    limit: DecodeLimit | None = None,
    options: VadOptions = DEFAULT_OPTIONS,
) -> tuple[float, float]:
    """Decode an uploaded file (this is the content check) block by block, so memory stays
    bounded: each block goes to the 16 kHz WAV and through the detector with its state carried
    (blocks are whole windows, so the result equals a whole-file pass). Returns (duration, ratio).
    Raises TooMuchAudio as soon as the decoded audio passes `limit` (checked every 60 s block).
    """
    det, total, parts = detector(), 0, []
    state = det.initial_state(1)
    block = WINDOW_SAMPLES * 1875  # 60 s
    with wave.open(str(files.audio), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(storage.SAMPLE_RATE)
        for samples in iter_blocks(source, storage.SAMPLE_RATE, block):
            if limit is not None and total + len(samples) > limit.samples:
                raise TooMuchAudio(limit.reason)
            out.writeframes(storage.to_pcm16(samples).tobytes())
            parts.append(det.probabilities(samples, state))
            total += len(samples)
    probs = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    probs.astype("<f4").tofile(files.probs)
    duration = total / storage.SAMPLE_RATE
    return duration, speech_ratio(probs, duration, options)


def rebuild(files: LectureFiles) -> tuple[State, int, np.ndarray]:
    """Rewrite the probabilities of a stored WAV, reading it 60 s at a time (a 3-hour recording
    costs a few MB, not the 2 GB a whole-file pass took). Returns the LSTM state after the last
    whole window, the number of samples stored, and the samples of the last partial window."""
    det, total = detector(), 0
    state, tail = det.initial_state(1), np.zeros(0, np.int16)
    block_bytes = WINDOW_SAMPLES * 1875 * 2
    with open(files.audio, "rb") as wav, open(files.probs, "wb") as out:
        wav.seek(storage.HEADER_BYTES)
        while chunk := wav.read(block_bytes):  # full blocks until the last
            pcm = np.frombuffer(chunk, "<i2", count=len(chunk) // 2)
            full = len(pcm) // WINDOW_SAMPLES * WINDOW_SAMPLES
            if full:
                det.probabilities(pcm[:full], state).astype("<f4").tofile(out)
            total, tail = total + len(pcm), pcm[full:]
    return state, total, tail


def recover(files: LectureFiles, options: VadOptions = DEFAULT_OPTIONS) -> tuple[float, float]:
    """Make a recording cut off by a crash playable and analysed; returns (duration, ratio)."""
    if not files.audio.is_file():
        storage.start_wav(files.audio)
    storage.fix_wav_header(files.audio)
    state, samples, tail = rebuild(files)
    if len(tail):  # the last window zero-padded, as for a whole file
        with open(files.probs, "ab") as out:
            detector().probabilities(tail, state).astype("<f4").tofile(out)
    duration = samples / storage.SAMPLE_RATE
    return duration, speech_ratio(storage.read_probs(files.probs), duration, options)
