"""The speech detector at run time: log-mel front end → MLP → LSTM (h, c carried) → sigmoid.

`Detector` is the API: whole signals (`probabilities`, `classes`), one window at a time
(`__call__`), many streams at once (`step`). The weights and their loading live in
classrec.checkpoint, the numerical steps in classrec.kernels; numpy, plus onnxruntime when
installed for the LSTM recurrence over whole signals (a Python loop in numpy otherwise). Tests
check that every path gives the same probabilities, and the same as the torch network that
classrec.train builds and exports.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from classrec import kernels
from classrec.checkpoint import default_weights_path, fold, load_weights, onnx_lstm
from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE, frame, window_samples
from classrec.kernels import State

BACKENDS = ("auto", "numpy", "onnxruntime")
CHUNK_WINDOWS = 512
"""Windows per block in `probabilities` (16 s at 16 kHz): bounds the temporaries on long input,
and keeps a block's (1 MB of samples, 1 MB of gates) in a core's cache: 10 min took 88 ms in
blocks of 512 against 93–112 ms in blocks of 2048 (interleaved runs, onnxruntime backend)."""
MIN_ONNX_WINDOWS = 2
"""Below this many windows the numpy loop beats onnxruntime's fixed cost per call (~25 µs)."""


def as_samples(samples: object, what: str = "samples") -> np.ndarray:
    """Convert audio to float32 in [-1, 1]: floats as they are, int16/int32 PCM scaled.

    Rejects other dtypes and NaN/inf with a ClassRecError, since a silent conversion would give
    meaningless probabilities.
    """
    array = np.asarray(samples)
    if array.dtype == np.int16:
        array = array.astype(np.float32) / 32768.0
    elif array.dtype == np.int32:
        array = array.astype(np.float32) / 2147483648.0
    elif array.dtype.kind == "f":
        array = array.astype(np.float32, copy=False)
    else:
        raise ClassRecError(
            f"{what} have dtype {array.dtype}: pass float samples in [-1, 1] or int16/int32 PCM"
        )
    # A finite sum means every value is finite (NaN and ±inf propagate), and one reduction costs
    # a third of the full check on a window; only a non-finite sum (or an overflowing one) needs
    # the full check to decide.
    if not math.isfinite(np.add.reduce(array, axis=None)) and not np.isfinite(array).all():
        raise ClassRecError(f"{what} contain NaN or infinite values: clean the audio first")
    return array


class Detector:
    """Speech probability per 32 ms window, with LSTM state carried across windows.

    >>> det = Detector(sample_rate=16000)
    >>> p = det.probabilities(samples, sample_rate=16000)   # whole signal, fresh state
    >>> det.reset(); q = det(samples[:512])     # streaming, one window per call
    >>> state = det.initial_state(8)            # eight independent streams
    >>> probs, state = det.step(windows_8x512, state)

    `backend` chooses how `probabilities` runs the recurrence over many windows: "onnxruntime"
    (compiled; needs onnxruntime and the .onnx exported from these weights), "numpy" (a Python
    loop, a few µs per window), or "auto" (onnxruntime when available). Both give the same
    probabilities to float32 rounding; everything else is numpy in either case.
    """

    CLASSES = ("speech", "music", "noise")
    """Columns of `classes`: speech, music audible, other noise audible (bangs, ambience, …)."""

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        weights: str | Path | None = None,
        backend: str = "auto",
    ) -> None:
        if backend not in BACKENDS:
            raise ClassRecError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.window_size = window_samples(sample_rate)
        self.sample_rate = sample_rate
        self._weights_path = Path(weights) if weights is not None else default_weights_path()
        self._weights = fold(load_weights(self._weights_path))
        self.hidden_size = self._weights.hidden
        self._local = threading.local()  # per-thread LSTM buffers: the web app steps in threads
        self._one: kernels.OneStream | None = None
        self._session: object | None = None
        self._backend = backend if backend != "auto" else None
        if backend == "onnxruntime":
            self._session = self._onnx_session()
        self.reset()

    def __getstate__(self) -> dict:
        """For pickling (multiprocessing): the onnxruntime session, the per-thread buffers and
        the single-stream buffers cannot be pickled; they are rebuilt on unpickling."""
        state = self.__dict__.copy()
        state.update(_local=None, _one=None, _session=None)
        state["state"] = State(self.state.h.copy(), self.state.c.copy())  # maybe buffer views
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()
        if self._backend == "onnxruntime":
            self._session = self._onnx_session()

    def _onnx_session(self) -> object:
        session, why = onnx_lstm(self._weights_path)
        if session is None:
            raise ClassRecError(f"backend 'onnxruntime' unavailable: {why}")
        return session

    @property
    def backend(self) -> str:
        """The recurrence engine `probabilities` uses: "onnxruntime" or "numpy"."""
        if self._backend is None:  # "auto", resolved on first use (importing onnxruntime costs)
            self._session = onnx_lstm(self._weights_path)[0]
            self._backend = "onnxruntime" if self._session is not None else "numpy"
        return self._backend

    # -- state -------------------------------------------------------------------------------
    def initial_state(self, batch_size: int = 1) -> State:
        """Fresh (silent) state for `batch_size` independent streams."""
        zeros = np.zeros((batch_size, self.hidden_size), dtype=np.float32)
        return State(zeros, zeros.copy())

    def reset(self) -> None:
        """Forget the single-stream state used by `__call__`."""
        self.state = self.initial_state(1)

    # -- one window per stream ---------------------------------------------------------------
    def step(self, windows: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """Advance `state.batch_size` streams by one window each: windows (batch, window) →
        probabilities (batch,) and the new State (the old one is left as it was)."""
        windows = as_samples(windows, "windows")
        if windows.ndim != 2 or windows.shape != (state.batch_size, self.window_size):
            raise ClassRecError(
                f"step() needs windows of shape ({state.batch_size}, {self.window_size}), "
                f"got {windows.shape}"
            )
        w = self._weights
        gates_in = kernels.project(w, kernels.mlp(w, windows))
        state = self._cell(state.batch_size).step(w, gates_in, state)
        return kernels.head(w, state.h), state

    def __call__(self, window: np.ndarray) -> float:
        """Probability for one window of exactly `window_size` samples; state carried.

        `self.state` is advanced in place (its arrays are the stepping buffers); assign a new
        State (or call `reset`) to start elsewhere.
        """
        window = as_samples(window, "window")
        if window.shape != (self.window_size,):
            raise ClassRecError(
                f"a window is {self.window_size} samples at {self.sample_rate} Hz, "
                f"got shape {window.shape}; use probabilities() or a Stream for other sizes"
            )
        one = self._one
        if one is None:
            one = self._one = kernels.OneStream(self._weights, self.window_size)
        if self.state is not one.state:
            self.state = one.load(self.state)
        return one.step(window)

    def _cell(self, batch_size: int) -> kernels.Cell:
        """This thread's reusable LSTM buffers for one batch size (few sizes occur in practice)."""
        cells = getattr(self._local, "cells", None)
        if cells is None or len(cells) > 8:
            cells = self._local.cells = {}
        cell = cells.get(batch_size)
        if cell is None:
            cell = cells[batch_size] = kernels.Cell(batch_size, self.hidden_size)
        return cell

    # -- whole signals -----------------------------------------------------------------------
    def probabilities(
        self, samples: np.ndarray, state: State | None = None, *, sample_rate: int
    ) -> np.ndarray:
        """One probability per window for a whole 1-D signal (last window zero-padded).

        `sample_rate` (Hz) is required and must be the detector's: windows are counted in
        samples, so audio at another rate would silently get windows of the wrong length (44.1
        kHz audio read as 16 kHz gives 2.8× too many windows, each a third as long).
        `classrec.probabilities` resamples audio of any rate and shape instead.

        Runs in blocks of CHUNK_WINDOWS windows (bounded memory on long signals): the front end
        and head on all windows of a block at once, the recurrence in onnxruntime or a numpy
        loop (`backend`). Starts from a fresh state unless one is given (it is then advanced in
        place, so consecutive calls continue a signal exactly).
        """
        self._check_rate(sample_rate)
        samples = self._signal(samples)
        out = np.empty(-(-len(samples) // self.window_size), dtype=np.float32)
        done = 0
        for hs in self._hidden_blocks(samples, state):
            out[done : done + len(hs)] = kernels.head(self._weights, hs)
            done += len(hs)
        return out

    def classes(
        self, samples: np.ndarray, state: State | None = None, *, sample_rate: int
    ) -> np.ndarray:
        """(n_windows, 3) probabilities of speech, music and other noise per window.

        The three are independent sigmoids on the same LSTM state (speech over music is both
        speech and music). Needs weights trained with the class head (the shipped ones are).
        `sample_rate` as in `probabilities`."""
        self._check_rate(sample_rate)
        if self._weights.classes is None:
            raise ClassRecError(
                "these weights have no music/noise head: retrain or use the shipped ones"
            )
        samples = self._signal(samples)
        parts = [kernels.classes(self._weights, hs) for hs in self._hidden_blocks(samples, state)]
        return np.concatenate(parts) if parts else np.empty((0, 3), np.float32)

    def _check_rate(self, sample_rate: int) -> None:
        if sample_rate != self.sample_rate:
            raise ClassRecError(
                f"this detector runs at {self.sample_rate} Hz, got samples at {sample_rate} Hz: "
                "resample first, or call classrec.probabilities(samples, sample_rate=...)"
            )

    @staticmethod
    def _signal(samples: np.ndarray) -> np.ndarray:
        """The signal as checked float32 samples (one pass over it), which must be 1-D."""
        samples = as_samples(samples)
        if samples.ndim != 1:
            raise ClassRecError(f"samples must be 1-D (mono), got shape {samples.shape}")
        return samples

    def _hidden_blocks(self, samples: np.ndarray, state: State | None) -> Iterator[np.ndarray]:
        """LSTM outputs (T, H) of a 1-D float32 signal checked by `_signal`, block by block;
        `state` advanced in place."""
        state = state if state is not None else self.initial_state(1)
        for block in self._blocks(samples):
            x = kernels.mlp(self._weights, block)
            if len(x) >= MIN_ONNX_WINDOWS and self.backend == "onnxruntime":
                yield kernels.run_onnx(self._session, x, state)
            else:
                yield kernels.run_numpy(self._weights, x, state, self._cell(1))

    def _blocks(self, samples: np.ndarray) -> Iterator[np.ndarray]:
        """Whole windows in blocks of CHUNK_WINDOWS as views (no copy of the signal), then the
        zero-padded last partial window."""
        size = self.window_size
        whole = len(samples) // size
        for start in range(0, whole, CHUNK_WINDOWS):
            stop = min(whole, start + CHUNK_WINDOWS)
            yield samples[start * size : stop * size].reshape(-1, size)
        if len(samples) > whole * size:
            yield frame(samples[whole * size :], self.sample_rate)
