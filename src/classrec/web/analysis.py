"""Offline work on a stored lecture: probabilities, speech regions, summary figures.

Uploads go through the library's file pipeline (classrec.pipeline, the path `classrec detect`
takes), so the same file gives the same probabilities in the CLI and the web app. Crash recovery
reads the stored WAV; live recordings produce the same per-window probabilities incrementally
(live.py), so every kind of lecture is read back the same way.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classrec import pipeline
from classrec.errors import ClassRecError
from classrec.features import WINDOW_SECONDS, window_samples
from classrec.model import Detector, State
from classrec.segments import Segment, VadOptions, speech_segments
from classrec.web import storage
from classrec.web.config import Settings
from classrec.web.storage import LectureFiles

WINDOW_S = WINDOW_SECONDS
"""Seconds per probability in probs.f32: the model's grid (classrec.features)."""
WINDOW_SAMPLES = window_samples(storage.SAMPLE_RATE)
REBUILD_WINDOWS = 1875
"""Windows a stored WAV is read in when it is analysed again: 60 s, a few MB."""
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


def detector() -> Detector:
    """The process's one detector at the stored rate: pipeline.shared_detector, the cache the
    library and CLI use. `probabilities` and `step` keep no state of their own, so threads share
    it."""
    return pipeline.shared_detector(storage.SAMPLE_RATE)


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
    """Decode and analyse an uploaded file (the decoding is the content check) with the
    library's file pipeline, block by block, so memory stays bounded. Each block is stored in
    the 16 kHz WAV before the model sees it; TooMuchAudio is raised as soon as the decoded audio
    passes `limit`. Returns (duration in s, speech ratio)."""
    with wave.open(str(files.audio), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(storage.SAMPLE_RATE)
        probs, duration = pipeline.file_probabilities(
            source, storage.SAMPLE_RATE, detector(), on_block=_wav_writer(out, limit)
        )
    probs.astype("<f4").tofile(files.probs)
    return duration, speech_ratio(probs, duration, options)


def _wav_writer(out: wave.Wave_write, limit: DecodeLimit | None) -> Callable[[np.ndarray], None]:
    """A block callback appending 16 kHz samples to `out`; TooMuchAudio past `limit`."""
    written = 0

    def write(samples: np.ndarray) -> None:
        nonlocal written
        if limit is not None and written + len(samples) > limit.samples:
            raise TooMuchAudio(limit.reason)
        out.writeframes(storage.to_pcm16(samples).tobytes())
        written += len(samples)

    return write


def rebuild(files: LectureFiles) -> tuple[State, int, np.ndarray]:
    """Rewrite the probabilities of a stored WAV, reading it 60 s at a time (a 3-hour recording
    costs a few MB, not the 2 GB a whole-file pass took). Returns the LSTM state after the last
    whole window, the number of samples stored, and the samples of the last partial window."""
    det, total = detector(), 0
    state, tail = det.initial_state(1), np.zeros(0, np.int16)
    block_bytes = WINDOW_SAMPLES * REBUILD_WINDOWS * 2
    with open(files.audio, "rb") as wav, open(files.probs, "wb") as out:
        wav.seek(storage.HEADER_BYTES)
        while chunk := wav.read(block_bytes):  # full blocks until the last
            pcm = np.frombuffer(chunk, "<i2", count=len(chunk) // 2)
            full = len(pcm) // WINDOW_SAMPLES * WINDOW_SAMPLES
            if full:
                probs = det.probabilities(pcm[:full], state, sample_rate=det.sample_rate)
                probs.astype("<f4").tofile(out)
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
            probs = detector().probabilities(tail, state, sample_rate=storage.SAMPLE_RATE)
            probs.astype("<f4").tofile(out)
    duration = samples / storage.SAMPLE_RATE
    return duration, speech_ratio(storage.read_probs(files.probs), duration, options)
