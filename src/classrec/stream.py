"""Live detection: push audio chunks of any size, get probabilities and start/end events.

    >>> stream = Stream()                      # one per live source; weights shared
    >>> for chunk in microphone():             # 10 ms, 100 ms, 1 s, irregular: any size
    ...     probs, events = stream.push(chunk) # events: [{"start": 1.02}], [{"end": 4.58}], ...
    >>> probs, events = stream.flush()         # end of input: last partial window, open speech

A stream keeps the samples that do not yet fill a 32 ms window and its own LSTM `State`; the
`Detector` (the weights) is shared, so many streams in one process cost a few kB each. The
probabilities equal `Detector.probabilities` on the whole signal, and the events are decided by
the same rules as `speech_segments` (hysteresis, merge short gaps, drop short speech, padding), as
soon as they are certain: a start once speech has lasted `min_speech_ms`, an end once the pause
has lasted `min_silence_ms` (or long enough that the paddings would not close it). Long speech is
not split (`max_speech_s` applies to whole-file segments only).
"""

from __future__ import annotations

import functools

import numpy as np

from classrec.audio import to_mono
from classrec.errors import ClassRecError
from classrec.model import Detector
from classrec.segments import VadOptions, hysteresis

Event = dict[str, float]
"""{"start": seconds} or {"end": seconds}, times from the start of the stream."""


@functools.cache
def shared_detector(sample_rate: int = 16000) -> Detector:
    """One Detector per rate per process; streams only read its weights, so sharing is safe."""
    return Detector(sample_rate)


class EventTracker:
    """Probabilities → start/end events, window by window, by the rules of `speech_segments`.

    Separate from `Stream` so it can be checked against `speech_segments` on any probabilities.
    """

    def __init__(self, options: VadOptions, window_s: float) -> None:
        self.options, self.window_s = options, window_s
        self._min_gap = options.merge_gap_windows(window_s)
        self._min_len = options.min_speech_windows(window_s)
        self._windows = 0  # windows seen so far
        self._speaking = False  # hysteresis flag after the last window
        self._run: list[int] | None = None  # [first, stop) windows of the current speech
        self._started = False  # start event of the current run already emitted

    def feed(self, probs: np.ndarray, seen_s: float = float("inf")) -> list[Event]:
        """Events decided by the next windows' probabilities; ends are clipped to `seen_s`, the
        seconds of audio received so far (the last window may be zero padding)."""
        opts = self.options
        flags = hysteresis(probs, opts.threshold, opts.off_threshold, self._speaking)
        if len(flags):
            self._speaking = bool(flags[-1])
        return [e for flag in flags if (e := self._advance(bool(flag), seen_s)) is not None]

    def finish(self, duration_s: float) -> list[Event]:
        """End of input after `duration_s` seconds: close open speech (if long enough)."""
        event = [{"end": self._end_time(duration_s)}] if self._run and self._started else []
        self._run, self._started = None, False
        return event

    def _advance(self, speech: bool, seen_s: float) -> Event | None:
        """Take one window's speech flag; return the event it decides, if any."""
        index = self._windows
        self._windows += 1
        if speech:
            self._run = [index, index + 1] if self._run is None else [self._run[0], index + 1]
            if not self._started and self._run[1] - self._run[0] >= self._min_len:
                self._started = True
                start = self._run[0] * self.window_s - self.options.pad_before_ms / 1000.0
                return {"start": max(start, 0.0)}
        elif self._run is not None and index + 1 - self._run[1] >= self._min_gap:
            event = {"end": self._end_time(seen_s)} if self._started else None
            self._run, self._started = None, False
            return event
        return None

    def _end_time(self, duration_s: float) -> float:
        end = self._run[1] * self.window_s + self.options.pad_after_ms / 1000.0
        return min(end, duration_s)


class Stream:
    """Speech detection for one live audio source (see the module docstring)."""

    def __init__(
        self,
        options: VadOptions = VadOptions(),  # noqa: B008 - frozen, so a shared default is safe
        sample_rate: int = 16000,
        detector: Detector | None = None,
    ) -> None:
        self.detector = detector if detector is not None else shared_detector(sample_rate)
        if self.detector.sample_rate != sample_rate:
            raise ClassRecError(
                f"detector runs at {self.detector.sample_rate} Hz, stream at {sample_rate} Hz"
            )
        self.options = options
        self.sample_rate = sample_rate
        self.window_s = self.detector.window_size / sample_rate
        self.reset()

    def reset(self) -> None:
        """Start over as a new stream (time 0, silent state, nothing pending)."""
        self.state = self.detector.initial_state(1)
        self.events = EventTracker(self.options, self.window_s)
        self._pending = np.zeros(0, dtype=np.float32)
        self._samples = 0  # samples pushed so far
        self._closed = False

    @property
    def time(self) -> float:
        """Seconds of audio pushed so far."""
        return self._samples / self.sample_rate

    def push(self, chunk: object, input_rate: int | None = None) -> tuple[np.ndarray, list[Event]]:
        """Feed a chunk: float or int16 numpy samples, or raw PCM16 bytes, mono, any length.

        Returns the probabilities of the windows completed by this chunk (maybe none) and the
        events decided by them. `input_rate` (Hz) resamples each chunk on its own; for exact
        results push audio already at the stream's rate.
        """
        if self._closed:
            raise ClassRecError("stream is closed: call reset() to start a new one")
        samples = to_mono(chunk, self.sample_rate, input_rate)
        self._samples += len(samples)
        buffer = np.concatenate([self._pending, samples])
        whole = len(buffer) - len(buffer) % self.detector.window_size
        self._pending = buffer[whole:]
        probs = self.detector.probabilities(buffer[:whole], self.state)
        return probs, self.events.feed(probs, self.time)

    def flush(self) -> tuple[np.ndarray, list[Event]]:
        """End of input: score the last partial window (zero-padded) and end open speech.

        The stream is closed afterwards; `reset()` reuses it for a new source.
        """
        if self._closed:
            return np.zeros(0, dtype=np.float32), []
        probs = self.detector.probabilities(self._pending, self.state)
        self._pending = self._pending[:0]
        self._closed = True
        return probs, self.events.feed(probs, self.time) + self.events.finish(self.time)

    close = flush
