"""Speech probabilities → speech segments, in small steps that can each be tested alone.

    probs ─ hysteresis ─► runs ─ merge short gaps ─► drop short speech ─► trim weak tails ─► pad
    ─► split long

Runs are half-open window index ranges [first, stop); windows are `window_s` seconds long, so
window i covers [i * window_s, (i + 1) * window_s). Only `pad` leaves the window grid (seconds).
Gaps are merged before short runs are dropped, so a word split by a short dip is not lost.
Pure: no audio, no model (classrec.pipeline gets probabilities from files and arrays).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from classrec.auto_threshold import AUTO, AutoThreshold
from classrec.errors import ClassRecError
from classrec.features import WINDOW_SECONDS

Run = tuple[int, int]
"""Half-open range of window indices [first, stop) judged speech."""
MIN_MAX_SPEECH_S = 0.01
"""Smallest `max_speech_s`: splitting into pieces of 1e-300 s would loop (practically) forever."""


@dataclass(frozen=True)
class VadOptions:
    """How probabilities become segments (one object, passed around instead of loose arguments).

    threshold: a window with probability >= threshold starts speech; "auto" sets it per window
        from the recording's own probabilities so far (see classrec.auto_threshold).
    neg_threshold: speech continues while probability >= neg_threshold (hysteresis, so a wobble
        around `threshold` does not chop a sentence); default `threshold - 0.15`, at least 0.01.
        It only bridges: speech ends after its last window >= threshold (`trim_weak_tails`).
    min_speech_ms: speech shorter than this (ms, after merging gaps) is dropped as a click.
    min_silence_ms: a pause shorter than this (ms) does not end speech.
    pad_before_ms / pad_after_ms: margin (ms) added before each start and after each end, so
        soft onsets and trailing consonants are kept; segments that touch after padding merge.
        No margin after speech by default: the model's own decay already ends speech a median
        64 ms after the words on split=dev (a causal model cannot tell a pause from an end
        sooner).
    max_speech_s: longer segments are split at their lowest-probability window (s).
    """

    threshold: float | str = 0.5
    neg_threshold: float | None = None
    min_speech_ms: int = 250
    min_silence_ms: int = 200  # the labelling convention: shorter pauses are inside speech
    pad_before_ms: int = 30
    pad_after_ms: int = 0
    max_speech_s: float = float("inf")

    def __post_init__(self) -> None:
        if self.threshold == AUTO:
            if self.neg_threshold is not None and not 0.0 <= self.neg_threshold < 1.0:
                raise ClassRecError(
                    f"neg_threshold must be between 0 and 1, got {self.neg_threshold}"
                )
        elif isinstance(self.threshold, str) or not 0.0 < self.threshold < 1.0:
            raise ClassRecError(
                f"threshold must be between 0 and 1, or 'auto', got {self.threshold}"
            )
        elif not 0.0 <= self.off_threshold <= self.threshold:
            raise ClassRecError(
                f"neg_threshold must be between 0 and threshold ({self.threshold}), "
                f"got {self.neg_threshold}"
            )
        for name in ("min_speech_ms", "min_silence_ms", "pad_before_ms", "pad_after_ms"):
            if getattr(self, name) < 0:
                raise ClassRecError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.max_speech_s >= MIN_MAX_SPEECH_S:  # tinier pieces would never finish
            raise ClassRecError(
                f"max_speech_s must be >= {MIN_MAX_SPEECH_S}, got {self.max_speech_s}"
            )

    @property
    def off_threshold(self) -> float:
        """The threshold that ends speech (neg_threshold, or its default; for "auto" the start
        value's, as `window_thresholds` gives per window)."""
        if self.neg_threshold is not None:
            return self.neg_threshold
        return max((0.5 if self.threshold == AUTO else self.threshold) - 0.15, 0.01)

    def window_thresholds(
        self, probs: np.ndarray, auto: AutoThreshold | None = None
    ) -> tuple[float | np.ndarray, float | np.ndarray]:
        """(start, end) thresholds for these windows: the fixed ones, or one per window for
        "auto", from `auto` (a stream's running state) or a fresh one (a whole recording)."""
        if self.threshold != AUTO:
            return self.threshold, self.off_threshold
        return (auto or AutoThreshold()).on_off(probs, self.neg_threshold)

    def merge_gap_windows(self, window_s: float = WINDOW_SECONDS) -> int:
        """Gaps shorter than this many windows join their neighbours: those shorter than
        min_silence_ms, and those the two paddings would close anyway (so padded segments never
        touch, and a stream can decide an end as soon as the gap reaches this length)."""
        padded = math.floor((self.pad_before_ms + self.pad_after_ms) / 1000.0 / window_s) + 1
        return max(_ms_to_windows(self.min_silence_ms, window_s), padded)

    def min_speech_windows(self, window_s: float = WINDOW_SECONDS) -> int:
        """Runs shorter than this many windows are dropped."""
        return _ms_to_windows(self.min_speech_ms, window_s)


def _ms_to_windows(ms: float, window_s: float) -> int:
    return math.ceil(ms / 1000.0 / window_s - 1e-9)


@dataclass(frozen=True, order=True)
class Segment:
    """A stretch of speech, `start` to `end` in seconds from the start of the recording."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_samples(self, sample_rate: int) -> tuple[int, int]:
        """(first, stop) sample indices at `sample_rate` Hz, for slicing a signal."""
        return round(self.start * sample_rate), round(self.end * sample_rate)

    @classmethod
    def from_samples(cls, first: int, stop: int, sample_rate: int) -> Segment:
        return cls(first / sample_rate, stop / sample_rate)

    def as_dict(self) -> dict[str, float]:
        """{"start": s, "end": s} rounded to the millisecond, as in the JSON output."""
        return {"start": round(self.start, 3), "end": round(self.end, 3)}


# -- the steps -----------------------------------------------------------------------------------
def hysteresis(
    probs: np.ndarray, on: float | np.ndarray, off: float | np.ndarray, speaking: bool = False
) -> np.ndarray:
    """Speech flag per window: turns on at prob >= `on`, stays on while prob >= `off` (numbers,
    or one per window).

    `speaking` is the flag before the first window, so a stream can continue where it stopped.
    """
    ons, offs = reaches(probs, on), reaches(probs, off)
    flags = np.empty(len(ons), dtype=bool)
    for i, (a, b) in enumerate(zip(ons, offs, strict=True)):
        speaking = bool(b) if speaking else bool(a)
        flags[i] = speaking
    return flags


def reaches(probs: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
    """Per window, whether its probability reaches `threshold` (a number, or one per window).
    Compared in float32, so a probability equal to the threshold counts as reaching it."""
    probs = np.asarray(probs, dtype=np.float32)
    return probs >= np.broadcast_to(np.float32(threshold), probs.shape)


def runs(flags: np.ndarray) -> list[Run]:
    """Half-open [first, stop) index ranges where `flags` is True."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )


def trim_weak_tails(spans: list[Run], strong: np.ndarray) -> list[Run]:
    """End each run after its last `strong` window (probability >= the start threshold).

    Hysteresis keeps speech on through dips, but it should not lengthen ends: after the last
    word a recurrent model's probability decays for two or three windows (64–96 ms, measured on
    split=dev), and those windows sit between the two thresholds. Applied after gaps are merged
    and short runs dropped, so it only moves ends: a short burst followed by a dip still joins
    the speech after it."""
    out = []
    for first, stop in spans:
        found = np.flatnonzero(strong[first:stop])
        out.append((first, first + int(found[-1]) + 1 if len(found) else stop))
    return out


def merge_gaps(spans: list[Run], min_gap: int) -> list[Run]:
    """Join neighbouring runs separated by fewer than `min_gap` windows."""
    merged: list[Run] = []
    for first, stop in spans:
        if merged and first - merged[-1][1] < min_gap:
            merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((first, stop))
    return merged


def drop_short(spans: list[Run], min_len: int) -> list[Run]:
    """Remove runs shorter than `min_len` windows."""
    return [(a, b) for a, b in spans if b - a >= min_len]


def span_start(first: int, window_s: float, before_s: float) -> float:
    """Start (s) of the segment whose first speech window is `first`: `before_s` earlier, not
    before 0. Rounded to the µs, so window-grid times read 0.962, not 0.9620000000000001."""
    return max(round(first * window_s - before_s, 6), 0.0)


def span_end(stop: int, window_s: float, after_s: float, duration_s: float) -> float:
    """End (s) of the segment whose speech stops at window `stop`: `after_s` later, not after
    `duration_s`; rounded like `span_start`."""
    return min(round(stop * window_s + after_s, 6), duration_s)


def pad(
    spans: list[Run], window_s: float, before_s: float, after_s: float, duration_s: float
) -> list[Segment]:
    """Runs → segments in seconds, widened by the margins, clipped to [0, duration_s]; segments
    that overlap after padding are merged."""
    out: list[Segment] = []
    for first, stop in spans:
        start = span_start(first, window_s, before_s)
        end = span_end(stop, window_s, after_s, duration_s)
        if out and start <= out[-1].end:
            out[-1] = Segment(out[-1].start, max(end, out[-1].end))
        elif end > start:
            out.append(Segment(start, end))
    return out


def split_horizon(start_s: float, window_s: float, max_s: float) -> int:
    """Windows whose probabilities `split_point` reads for a segment starting at `start_s` (s):
    a stream can cut once it has seen this many."""
    lo = math.ceil((start_s + max_s / 2) / window_s)
    return max(math.floor((start_s + max_s) / window_s), lo + 1)


def split_point(
    probs: np.ndarray, start_s: float, window_s: float, max_s: float, offset: int = 0
) -> float:
    """Where (s) a segment starting at `start_s` and longer than `max_s` is cut: at the
    lowest-probability window boundary in the second half of its first `max_s` seconds (the
    last such minimum, so pieces are as long as allowed), never a piece under one window.
    `probs[i]` is window `offset + i` (a stream keeps only recent windows)."""
    lo = math.ceil((start_s + max_s / 2) / window_s)
    hi = min(split_horizon(start_s, window_s, max_s), offset + len(probs))
    if lo < hi:
        cut = hi - 1 - int(np.argmin(probs[lo - offset : hi - offset][::-1]))
    else:
        cut = lo
    return min(max(round(cut * window_s, 6), start_s + window_s), start_s + max_s)


def split_long(
    segments: list[Segment], probs: np.ndarray, window_s: float, max_s: float
) -> list[Segment]:
    """Split segments longer than `max_s` at `split_point`, so every piece is at most `max_s`
    and none is tiny."""
    if math.isinf(max_s):
        return segments
    out = []
    for seg in segments:
        start = seg.start
        while seg.end - start > max_s + 1e-9:  # tolerance: float sums must not leave 0 s pieces
            cut_s = split_point(probs, start, window_s, max_s)
            out.append(Segment(start, cut_s))
            start = cut_s
        out.append(Segment(start, seg.end))
    return out


def speech_segments(
    probs: np.ndarray,
    options: VadOptions = VadOptions(),  # noqa: B008 - frozen, so a shared default is safe
    window_s: float = WINDOW_SECONDS,
    duration_s: float | None = None,
) -> list[Segment]:
    """Speech segments (seconds, sorted, non-overlapping, inside [0, duration_s]) from one
    probability per `window_s`-second window. `duration_s` defaults to len(probs) * window_s."""
    probs = np.asarray(probs, dtype=np.float32)
    duration = len(probs) * window_s if duration_s is None else duration_s
    on, off = options.window_thresholds(probs)
    spans = runs(hysteresis(probs, on, off))
    spans = merge_gaps(spans, options.merge_gap_windows(window_s))
    spans = drop_short(spans, options.min_speech_windows(window_s))
    spans = trim_weak_tails(spans, reaches(probs, on))
    before, after = options.pad_before_ms / 1000.0, options.pad_after_ms / 1000.0
    segments = pad(spans, window_s, before, after, duration)
    return split_long(segments, probs, window_s, options.max_speech_s)
