"""Live detection: push audio chunks of any size, get probabilities and start/end events.

    >>> stream = Stream()                      # one per live source; weights shared
    >>> for chunk in microphone():             # 10 ms, 100 ms, 1 s, irregular: any size
    ...     probs, events = stream.push(chunk) # events: [{"start": 1.02}], [{"end": 4.58}], ...
    >>> probs, events = stream.flush()         # end of input: last partial window, open speech

A stream keeps the samples that do not yet fill a 32 ms window and its own LSTM `State`; the
`Detector` (the weights) is shared, so many streams in one process cost a few kB each. The
probabilities equal `Detector.probabilities` on the whole signal, and the events are decided by
the same rules as `speech_segments` (hysteresis, merge short gaps, drop short speech, padding,
split at `max_speech_s`), as soon as they are certain: a start once speech has lasted
`min_speech_ms`, an end once the pause has lasted `min_silence_ms` (or long enough that the
paddings would not close it), a split (an end and a start at the same time) once the windows it
chooses from have been seen.

Audio at another rate (`Stream(input_rate=48000)`) goes through one soxr resampler that lives as
long as the stream, so chunk boundaries leave no trace in the probabilities.
"""

from __future__ import annotations

import math

import numpy as np
import soxr

from classrec.audio import pcm16_to_float
from classrec.auto_threshold import AUTO, AutoThreshold
from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE
from classrec.model import Detector, as_samples
from classrec.pipeline import as_mono, channel_axis, check_rate, shared_detector
from classrec.segments import (
    VadOptions,
    hysteresis,
    reaches,
    span_end,
    span_start,
    split_horizon,
    split_point,
)

__all__ = ["Event", "EventTracker", "Stream", "shared_detector"]

Event = dict[str, float]
"""{"start": seconds} or {"end": seconds}, times from the start of the stream."""


class EventTracker:
    """Probabilities → start/end events, window by window, by the rules of `speech_segments`.

    Separate from `Stream` so it can be checked against `speech_segments` on any probabilities.
    """

    def __init__(self, options: VadOptions, window_s: float) -> None:
        self.options, self.window_s = options, window_s
        self._min_gap = options.merge_gap_windows(window_s)
        self._min_len = options.min_speech_windows(window_s)
        self._auto = AutoThreshold(window_s) if options.threshold == AUTO else None
        self._before_s = options.pad_before_ms / 1000.0
        self._after_s = options.pad_after_ms / 1000.0
        self._windows = 0  # windows seen so far
        self._speaking = False  # hysteresis flag after the last window
        self._run: list[int] | None = None  # [first, stop) windows of the current speech
        self._last_strong = 0  # last window of the current speech at the start threshold
        self._start_s: float | None = None  # start of the segment announced and not yet ended
        # recent probabilities, for choosing where to split (kept only with a finite max_speech_s)
        self._probs = np.zeros(0, dtype=np.float32)
        self._probs_from = 0  # window index of self._probs[0]

    def feed(self, probs: np.ndarray, seen_s: float = float("inf")) -> list[Event]:
        """Events decided by the next windows' probabilities; ends are clipped to `seen_s`, the
        seconds of audio received so far (the last window may be zero padding)."""
        opts = self.options
        on, off = opts.window_thresholds(probs, self._auto)
        flags = hysteresis(probs, on, off, self._speaking)
        strong = reaches(probs, on)
        if len(flags):
            self._speaking = bool(flags[-1])
        if not math.isinf(opts.max_speech_s):
            self._probs = np.concatenate([self._probs, np.asarray(probs, dtype=np.float32)])
        events = [
            e
            for flag, high in zip(flags, strong, strict=True)
            for e in self._advance(bool(flag), bool(high), seen_s)
        ]
        self._forget_old_probs()
        return events

    def finish(self, duration_s: float) -> list[Event]:
        """End of input after `duration_s` seconds: close open speech (if long enough)."""
        events = []
        if self._run is not None and self._start_s is not None:
            events = self._end(self._end_time(duration_s))
        self._run, self._start_s = None, None
        return events

    def _advance(self, speech: bool, strong: bool, seen_s: float) -> list[Event]:
        """Take one window's speech flag (and whether it reached the start threshold); return
        the events it decides. Speech ends after its last strong window (`trim_weak_tails`)."""
        index = self._windows
        self._windows += 1
        if speech:
            self._run = [index, index + 1] if self._run is None else [self._run[0], index + 1]
            if strong:
                self._last_strong = index
            if self._start_s is None and self._run[1] - self._run[0] >= self._min_len:
                self._start_s = span_start(self._run[0], self.window_s, self._before_s)
                return [{"start": self._start_s}, *self._splits(self._end_time(seen_s), False)]
        elif self._run is not None and index + 1 - self._run[1] >= self._min_gap:
            events = self._end(self._end_time(seen_s)) if self._start_s is not None else []
            self._run, self._start_s = None, None
            return events
        if self._start_s is not None:
            return self._splits(self._end_time(seen_s), False)
        return []

    def _end(self, end_s: float) -> list[Event]:
        """The open segment ends at `end_s` (s): its remaining splits, then its end."""
        return [*self._splits(end_s, True), {"end": end_s}]

    def _splits(self, end_s: float, final: bool) -> list[Event]:
        """Cut the open segment while it is longer than max_speech_s up to `end_s` (s), a bound
        of its end. Before its end is `final`, a cut waits until the windows it chooses from
        have all been seen, so it falls where `split_long` puts it."""
        max_s, events = self.options.max_speech_s, []
        while end_s - self._start_s > max_s + 1e-9:  # the tolerance of split_long
            seen = self._probs_from + len(self._probs)
            if not final and seen < split_horizon(self._start_s, self.window_s, max_s):
                break
            cut = split_point(self._probs, self._start_s, self.window_s, max_s, self._probs_from)
            events += [{"end": cut}, {"start": cut}]
            self._start_s = cut
        return events

    def _forget_old_probs(self) -> None:
        """Drop probabilities no future cut can read: those before the open segment, or before
        the earliest start that padding could give the next one."""
        if self._start_s is not None:
            keep = math.floor(self._start_s / self.window_s)
        else:
            first = self._run[0] if self._run is not None else self._windows
            keep = first - math.ceil(self._before_s / self.window_s) - 1
        drop = max(keep - self._probs_from, 0)
        self._probs, self._probs_from = self._probs[drop:], self._probs_from + drop

    def _end_time(self, duration_s: float) -> float:
        return span_end(self._last_strong + 1, self.window_s, self._after_s, duration_s)


class Stream:
    """Speech detection for one live audio source (see the module docstring).

    `sample_rate` (Hz) is the rate the model runs at (16000 or 8000); `input_rate` (Hz) the rate
    of the pushed audio, default the same. Picklable (for multiprocessing) before its first push
    and after `reset()`; with an `input_rate` the resampler's filter state cannot be pickled, so
    a stream in mid-flight refuses rather than lose audio.
    """

    def __init__(
        self,
        options: VadOptions = VadOptions(),  # noqa: B008 - frozen, so a shared default is safe
        sample_rate: int = SAMPLE_RATE,
        detector: Detector | None = None,
        input_rate: int | None = None,
    ) -> None:
        self.detector = detector if detector is not None else shared_detector(sample_rate)
        if self.detector.sample_rate != sample_rate:
            raise ClassRecError(
                f"detector runs at {self.detector.sample_rate} Hz, stream at {sample_rate} Hz"
            )
        self.options = options
        self.sample_rate = sample_rate
        self.input_rate = check_rate(input_rate) if input_rate is not None else sample_rate
        self.window_s = self.detector.window_size / sample_rate
        self.reset()

    def reset(self) -> None:
        """Start over as a new stream (time 0, silent state, nothing pending)."""
        self.state = self.detector.initial_state(1)
        self.events = EventTracker(self.options, self.window_s)
        self._pending = np.zeros(0, dtype=np.float32)
        self._received = 0  # input samples pushed so far, at input_rate
        self._layout: tuple[int, int] | None = None  # (channel axis, channels) once seen
        self._resampler = self._new_resampler()
        self._closed = False

    def _new_resampler(self) -> soxr.ResampleStream | None:
        if self.input_rate == self.sample_rate:
            return None
        return soxr.ResampleStream(self.input_rate, self.sample_rate, 1, dtype="float32")

    @property
    def time(self) -> float:
        """Seconds of audio pushed so far."""
        return self._received / self.input_rate

    def push(self, chunk: object) -> tuple[np.ndarray, list[Event]]:
        """Feed a chunk at `input_rate`: float or int16/int32 numpy samples, mono (n,), (1, n)
        or multichannel (n, channels) / (channels, n) (averaged), or raw mono PCM16 bytes; any
        length.

        Returns the probabilities of the windows completed by this chunk (maybe none) and the
        events decided by them.
        """
        if self._closed:
            raise ClassRecError("stream is closed: call reset() to start a new one")
        samples = self._mono(chunk)
        self._received += len(samples)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        buffer = np.concatenate([self._pending, samples])
        whole = len(buffer) - len(buffer) % self.detector.window_size
        self._pending = buffer[whole:]
        probs = self.detector.probabilities(
            buffer[:whole], self.state, sample_rate=self.detector.sample_rate
        )
        return probs, self.events.feed(probs, self.time)

    def _mono(self, chunk: object) -> np.ndarray:
        """A chunk as mono float32; the channel layout of the first multichannel chunk decides
        how later ones are read, so a short (2, 2) chunk in a stereo stream is not ambiguous."""
        if isinstance(chunk, (bytes, bytearray, memoryview)):
            return pcm16_to_float(bytes(chunk))
        array = as_samples(chunk, "audio")
        if array.ndim != 2:
            return as_mono(array)
        if self._layout is not None and array.shape[self._layout[0]] == self._layout[1]:
            return as_mono(array, self._layout[0])
        axis = channel_axis(array.shape)
        if array.shape[axis] > 1:
            self._layout = (axis, array.shape[axis])
        return as_mono(array, axis)

    def flush(self) -> tuple[np.ndarray, list[Event]]:
        """End of input: score the last partial window (zero-padded) and end open speech.

        The stream is closed afterwards; `reset()` reuses it for a new source.
        """
        if self._closed:
            return np.zeros(0, dtype=np.float32), []
        if self._resampler is not None:  # the samples still inside the resampler's filter
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            self._pending = np.concatenate([self._pending, tail])
        probs = self.detector.probabilities(
            self._pending, self.state, sample_rate=self.detector.sample_rate
        )
        self._pending = self._pending[:0]
        self._closed = True
        return probs, self.events.feed(probs, self.time) + self.events.finish(self.time)

    close = flush

    def __getstate__(self) -> dict:
        """For pickling: the shared detector is not copied (the child uses its own shared one),
        and the resampler (not picklable) is rebuilt, which is exact only before any audio."""
        if self._resampler is not None and self._received:
            raise ClassRecError(
                "a Stream with input_rate cannot be pickled once audio was pushed (the "
                "resampler's state would be lost): pickle it before the first push or after reset()"
            )
        state = self.__dict__.copy()
        state["_resampler"] = None
        if self.detector is shared_detector(self.sample_rate):
            state["detector"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.detector is None:
            self.detector = shared_detector(self.sample_rate)
        self._resampler = self._new_resampler()
