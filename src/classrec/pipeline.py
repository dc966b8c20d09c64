"""Audio → probabilities → segments: arrays of any shape and rate in one call, files in blocks.

    >>> import classrec
    >>> samples = classrec.audio.load_audio("talk.mp3")      # or any array you already hold
    >>> classrec.detect(samples, sample_rate=16000)          # [Segment(start=0.962, end=…), …]
    >>> classrec.detect(stereo_44k, sample_rate=44100, sample_indices=True)  # [(42424, …), …]

Every in-memory entry point (`detect`, `probabilities`, `Stream.push`) reads its input through
`as_mono`, so `(n,)`, `(1, n)`, `(n, channels)` and `(channels, n)` mean the same everywhere and a
shape that could be read two ways is refused rather than guessed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soxr
from threadpoolctl import threadpool_limits

from classrec.audio import MAX_CHANNELS, MIN_SAMPLE_RATE, STDIN, iter_blocks
from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE, WINDOW_SAMPLES, window_samples
from classrec.model import Detector, as_samples
from classrec.segments import Segment, VadOptions, speech_segments

BLOCK_WINDOWS = 1024
"""Windows per block of a file (32.8 s at 16 kHz): the model's front end runs on whole blocks."""
MAX_INPUT_RATE = 768000
"""Highest input rate (Hz) accepted: above it the number is a mistake, not audio (the lowest is
audio.MIN_SAMPLE_RATE, as for files)."""
BLAS_THREADS = 1
"""BLAS threads per process: the detector's matrix products are small, and extra threads only spin
against each other and other processes. On a busy 2-core machine a 1-hour file took 3.4 s of model
CPU with 2 threads, 0.6 s with 1; `Detector.step` for 100 streams (the web server's live hub) took
0.43 ms of CPU per step with 1 thread against 0.66-2.7 ms with 2, and its 99th percentile of wall
time 0.45-3.1 ms against 0.4-56 ms (2 threads won only the median, 0.32-0.46 ms against 0.43 ms,
when the other core was free). Run files in parallel processes instead (`classrec.batch`)."""


def limit_blas_threads() -> threadpool_limits:
    """Limit BLAS to BLAS_THREADS threads in this process: at once, and as a context manager
    (`with limit_blas_threads(): ...`) until the block ends. The CLI, its worker processes and
    the web server (`python -m classrec.web`) call it once at start."""
    return threadpool_limits(BLAS_THREADS, user_api="blas")


@functools.cache
def shared_detector(sample_rate: int = SAMPLE_RATE) -> Detector:
    """One Detector per rate per process; callers only read its weights, so sharing is safe."""
    return Detector(sample_rate)


def model_rate(input_rate: int) -> int:
    """The rate the model runs at for input at `input_rate` Hz: 8 kHz input stays at 8 kHz (the
    model serves it directly, nothing to gain from upsampling); everything else goes to 16 kHz."""
    return input_rate if input_rate in WINDOW_SAMPLES else SAMPLE_RATE


def check_rate(sample_rate: object) -> int:
    """`sample_rate` as an int in Hz, or a ClassRecError saying what is accepted."""
    if isinstance(sample_rate, (bool, np.bool_)) or not isinstance(
        sample_rate, (int, float, np.integer, np.floating)
    ):
        raise ClassRecError(f"sample_rate must be a number of Hz, got {sample_rate!r}")
    if sample_rate != int(sample_rate) or not MIN_SAMPLE_RATE <= sample_rate <= MAX_INPUT_RATE:
        raise ClassRecError(
            f"sample_rate must be a whole number of Hz from {MIN_SAMPLE_RATE} to {MAX_INPUT_RATE}, "
            f"got {sample_rate!r}"
        )
    return int(sample_rate)


def channel_axis(shape: tuple[int, ...]) -> int:
    """Which axis of a 2-D shape holds the channels: the one of length 1, else the shorter one
    if it is at most MAX_CHANNELS long. Square shapes (2, 2) and shapes with no short axis are
    ambiguous and refused: guessing wrong would average the samples away."""
    rows, cols = shape
    if rows == 1 or cols == 1:
        return 0 if rows == 1 else 1
    if rows == cols or min(rows, cols) > MAX_CHANNELS:
        raise ClassRecError(
            f"cannot tell samples from channels in an array of shape {shape}: pass mono (n,), "
            "(n, channels) or (channels, n) with fewer channels than samples "
            f"(at most {MAX_CHANNELS} channels)"
        )
    return 0 if rows < cols else 1


def as_mono(samples: object, axis: int | None = None) -> np.ndarray:
    """Audio in memory → 1-D float32 in [-1, 1]: channels averaged, int16/int32 PCM scaled.

    `(n,)`, `(1, n)`, `(n, 1)`, `(n, channels)` and `(channels, n)` are all accepted; `axis`
    names the channel axis when the caller knows it (a stream that has seen its layout),
    otherwise `channel_axis` decides. Anything else is a ClassRecError, never a silent reshape.
    """
    array = as_samples(samples, "audio")
    if array.ndim == 1:
        return array
    if array.ndim != 2:
        raise ClassRecError(
            f"audio must be 1-D or 2-D (samples and channels), got shape {array.shape}"
        )
    axis = channel_axis(array.shape) if axis is None else axis
    if array.shape[axis] == 1:
        return np.ascontiguousarray(array.reshape(-1))
    return array.mean(axis=axis, dtype=np.float32)


def resample(samples: np.ndarray, input_rate: int, output_rate: int) -> np.ndarray:
    """Mono float32 from `input_rate` to `output_rate` Hz (soxr, high quality), the whole signal
    in one go; a stream uses one `soxr.ResampleStream` instead (see `Stream`)."""
    if input_rate == output_rate or not len(samples):
        return samples
    return soxr.resample(samples, input_rate, output_rate).astype(np.float32, copy=False)


def _detector_for(sample_rate: int, detector: Detector | None) -> Detector:
    return detector if detector is not None else shared_detector(model_rate(sample_rate))


def probabilities(
    samples: object, sample_rate: int = SAMPLE_RATE, detector: Detector | None = None
) -> np.ndarray:
    """One speech probability per 32 ms window for audio of any shape and rate (Hz).

    The audio is mixed to mono and resampled to the detector's rate (default: 16 kHz, or 8 kHz
    for 8 kHz input), so window i covers [0.032 i, 0.032 (i + 1)) seconds whatever the input rate.
    """
    rate = check_rate(sample_rate)
    det = _detector_for(rate, detector)
    mono = resample(as_mono(samples), rate, det.sample_rate)
    return det.probabilities(mono, sample_rate=det.sample_rate)


def detect(
    samples: object,
    sample_rate: int = SAMPLE_RATE,
    options: VadOptions = VadOptions(),  # noqa: B008 - frozen, so a shared default is safe
    *,
    sample_indices: bool = False,
    detector: Detector | None = None,
) -> list[Segment] | list[tuple[int, int]]:
    """Speech segments in audio held in memory: the one-call path from an array to answers.

    `samples`: float in [-1, 1] or int16/int32 PCM, mono or multichannel (see `as_mono`), at
    `sample_rate` Hz (any rate from 4 kHz; resampled inside). Returns segments in seconds from the
    start, or with `sample_indices=True` (first, stop) sample indices into `samples` at its own
    rate, for slicing: `samples[first:stop]`.
    """
    rate = check_rate(sample_rate)
    det = _detector_for(rate, detector)
    mono = as_mono(samples)
    probs = probabilities(mono, rate, det)
    window_s = det.window_size / det.sample_rate
    segments = speech_segments(probs, options, window_s, duration_s=len(mono) / rate)
    if sample_indices:
        return [seg.to_samples(rate) for seg in segments]
    return segments


# -- files ---------------------------------------------------------------------------------------
def source_name(path: str | Path) -> str:
    """A file's name as outputs and progress bars show it ("stdin" for -)."""
    return "stdin" if str(path) == STDIN else Path(path).name


def file_probabilities(
    path: str | Path,
    sample_rate: int = SAMPLE_RATE,
    detector: Detector | None = None,
    on_block: Callable[[np.ndarray], None] | None = None,
    classes: bool = False,
) -> tuple[np.ndarray, float]:
    """(probability per 32 ms window, duration in s) for a file, decoded block by block.

    Blocks hold whole windows, and the recurrent state is carried between them, so the result
    equals `Detector.probabilities` on the whole signal while memory stays bounded. `on_block`
    sees each block of samples before the model does (progress bars, the web app's stored WAV
    and its decode limit, which may stop the work by raising). With `classes`, each window
    gets (speech, music, noise) probabilities instead (`Detector.classes`).
    """
    det = detector if detector is not None else shared_detector(sample_rate)
    if det.sample_rate != sample_rate:
        raise ClassRecError(f"detector runs at {det.sample_rate} Hz, asked for {sample_rate} Hz")
    size = window_samples(sample_rate)
    state = det.initial_state(1)
    parts, total = [], 0
    for block in iter_blocks(path, sample_rate, block_samples=size * BLOCK_WINDOWS):
        if on_block is not None:
            on_block(block)
        parts.append(
            det.classes(block, state, sample_rate=det.sample_rate)
            if classes
            else det.probabilities(block, state, sample_rate=det.sample_rate)
        )
        total += len(block)
    return np.concatenate(parts), total / sample_rate


def detect_file(
    path: str | Path,
    options: VadOptions = VadOptions(),  # noqa: B008
    sample_rate: int = SAMPLE_RATE,
    detector: Detector | None = None,
    on_block: Callable[[np.ndarray], None] | None = None,
) -> tuple[list[Segment], np.ndarray, float]:
    """(speech segments, probabilities, duration in s) for an audio or video file."""
    probs, duration = file_probabilities(path, sample_rate, detector, on_block)
    window_s = window_samples(sample_rate) / sample_rate
    return speech_segments(probs, options, window_s, duration), probs, duration
