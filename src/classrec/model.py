"""The speech detector at run time: log-mel front end → MLP → LSTM (h, c carried) → sigmoid.

numpy only. The training recipe (classrec.train) builds the same network in torch and exports its
weights to `weights/classrec-vad.npz`; tests check both give the same probabilities.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from classrec.errors import ClassRecError
from classrec.features import frame, log_mel, window_samples

WEIGHTS_NAME = "classrec-vad"


@dataclass
class State:
    """Recurrent state of a batch of independent streams: hidden `h`, cell `c`, (batch, hidden)."""

    h: np.ndarray
    c: np.ndarray

    @property
    def batch_size(self) -> int:
        return self.h.shape[0]


def default_weights_path() -> Path:
    """The weights shipped inside the package."""
    return Path(str(resources.files("classrec") / "weights" / f"{WEIGHTS_NAME}.npz"))


def load_weights(path: str | Path | None = None) -> dict[str, np.ndarray]:
    """Load an exported weights file (.npz of float32 arrays)."""
    path = Path(path) if path is not None else default_weights_path()
    if not path.is_file():
        raise ClassRecError(f"weights file not found: {path}")
    with np.load(path) as data:
        return {k: data[k].astype(np.float32) for k in data.files}


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
    if not np.isfinite(array).all():
        raise ClassRecError(f"{what} contain NaN or infinite values: clean the audio first")
    return array


def _fold(w: dict[str, np.ndarray], hidden: int) -> tuple[list, tuple, tuple]:
    """Exported weights → the runtime's layout, rearranged for speed (exact algebra, float32
    rounding only): the normalisation is folded into the first layer; the LSTM gates are reordered
    i, f, o, g with the sigmoid gates (and the head) pre-scaled by 0.5, so one tanh gives
    sigmoid(x) = 0.5 (1 + tanh(x / 2)) for all of them."""
    mean, scale = w["norm_mean"].astype(np.float64), 1.0 / w["norm_std"].astype(np.float64)
    w0, b0 = w["front.0.weight"].T.astype(np.float64), w["front.0.bias"].astype(np.float64)
    front = [
        (scale[:, None] * w0, b0 - (mean * scale) @ w0),
        (w["front.2.weight"].T, w["front.2.bias"]),
    ]
    front = [(np.ascontiguousarray(a, np.float32), b.astype(np.float32)) for a, b in front]
    order = np.r_[0 : 2 * hidden, 3 * hidden : 4 * hidden, 2 * hidden : 3 * hidden]  # ifgo→ifog
    gate_scale = np.where(np.arange(4 * hidden) < 3 * hidden, 0.5, 1.0).astype(np.float32)
    lstm = (
        np.ascontiguousarray(w["lstm.weight_ih_l0"][order].T * gate_scale),
        np.ascontiguousarray(w["lstm.weight_hh_l0"][order].T * gate_scale),
        (w["lstm.bias_ih_l0"] + w["lstm.bias_hh_l0"])[order] * gate_scale,
    )
    head = (np.float32(0.5) * w["head.weight"].T, np.float32(0.5) * w["head.bias"])
    return front, lstm, head


class Detector:
    """Speech probability per 32 ms window, with LSTM state carried across windows.

    >>> det = Detector(sample_rate=16000)
    >>> p = det.probabilities(samples)          # whole signal, fresh state
    >>> det.reset(); q = det(samples[:512])     # streaming, one window per call
    >>> state = det.initial_state(8)            # eight independent streams
    >>> probs, state = det.step(windows_8x512, state)
    """

    def __init__(self, sample_rate: int = 16000, weights: str | Path | None = None) -> None:
        self.window_size = window_samples(sample_rate)
        self.sample_rate = sample_rate
        w = load_weights(weights)
        self.hidden_size = w["lstm.weight_hh_l0"].shape[1]
        self._front, (self._w_ih, self._w_hh, self._b), self._head_wb = _fold(w, self.hidden_size)
        self._local = threading.local()  # per-thread LSTM buffers: the web app steps in threads
        self.reset()

    # -- state -------------------------------------------------------------------------------
    def initial_state(self, batch_size: int = 1) -> State:
        """Fresh (silent) state for `batch_size` independent streams."""
        zeros = np.zeros((batch_size, self.hidden_size), dtype=np.float32)
        return State(zeros, zeros.copy())

    def reset(self) -> None:
        """Forget the single-stream state used by `__call__`."""
        self.state = self.initial_state(1)

    # -- computation -------------------------------------------------------------------------
    def _gate_inputs(self, windows: np.ndarray) -> np.ndarray:
        """Everything that does not depend on the recurrence, for many windows in one go."""
        x = log_mel(windows)
        for weight, bias in self._front:
            x = x @ weight
            x += bias
            np.maximum(x, 0.0, out=x)
        x = x @ self._w_ih
        x += self._b
        return x

    def _cell(self, batch_size: int) -> _Cell:
        """This thread's reusable LSTM buffers for one batch size (few sizes occur in practice)."""
        cells = getattr(self._local, "cells", None)
        if cells is None or len(cells) > 8:
            cells = self._local.cells = {}
        cell = cells.get(batch_size)
        if cell is None:
            cell = cells[batch_size] = _Cell(batch_size, self.hidden_size)
        return cell

    def _head(self, h: np.ndarray) -> np.ndarray:
        """Probabilities (batch,) from hidden states (batch, H): sigmoid of the linear head."""
        weight, bias = self._head_wb
        z = h @ weight
        z += bias
        np.tanh(z, out=z)
        z += 1.0
        z *= 0.5
        return z[:, 0]

    def _recur(self, gates_in: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """One LSTM step for a batch: gates_in (batch, 4H) → probabilities (batch,), new state."""
        cell = self._cell(state.batch_size)
        np.dot(state.h, self._w_hh, out=cell.gates)
        cell.gates += gates_in
        h, c = np.empty_like(state.h), state.c.copy()
        cell.advance(c, h)
        return self._head(h), State(h, c)

    def step(self, windows: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """Advance `state.batch_size` streams by one window each: windows (batch, window)."""
        windows = as_samples(windows, "windows")
        if windows.ndim != 2 or windows.shape != (state.batch_size, self.window_size):
            raise ClassRecError(
                f"step() needs windows of shape ({state.batch_size}, {self.window_size}), "
                f"got {windows.shape}"
            )
        return self._recur(self._gate_inputs(windows), state)

    def __call__(self, window: np.ndarray) -> float:
        """Probability for one window of exactly `window_size` samples; state carried."""
        window = as_samples(window, "window")
        if window.shape != (self.window_size,):
            raise ClassRecError(
                f"a window is {self.window_size} samples at {self.sample_rate} Hz, "
                f"got shape {window.shape}; use probabilities() or a Stream for other sizes"
            )
        prob, self.state = self._recur(self._gate_inputs(window[None, :]), self.state)
        return float(prob[0])

    def probabilities(self, samples: np.ndarray, state: State | None = None) -> np.ndarray:
        """One probability per window for a whole 1-D signal (last window zero-padded).

        The front end runs on all windows at once; only the recurrence steps window by window.
        Starts from a fresh state unless one is given (it is then advanced in place).
        """
        samples = as_samples(samples)
        if samples.ndim != 1:
            raise ClassRecError(f"samples must be 1-D (mono), got shape {samples.shape}")
        if len(samples) == 0:
            return np.zeros(0, dtype=np.float32)
        state = state if state is not None else self.initial_state(1)
        gates_in = self._gate_inputs(frame(samples, self.sample_rate))
        hs = self._run(gates_in, state)
        return self._head(hs)

    def _run(self, gates_in: np.ndarray, state: State) -> np.ndarray:
        """The recurrence over a sequence for one stream, buffers reused across steps: gates_in
        (T, 4H) → hidden states (T, H); `state` is advanced. This loop is the runtime's hot path
        (a few µs per window), hence the preallocated views and in-place numpy calls."""
        cell, w_hh, gates = self._cell(1), self._w_hh, self._cell(1).gates
        hs = np.empty((len(gates_in) + 1, self.hidden_size), dtype=np.float32)
        hs[0] = state.h[0]
        c = state.c.copy()
        prev = hs[0:1]
        for t in range(len(gates_in)):
            np.dot(prev, w_hh, out=gates)
            gates += gates_in[t]
            prev = hs[t + 1 : t + 2]
            cell.advance(c, prev)
        state.h, state.c = hs[-1:].copy(), c
        return hs[1:]


class _Cell:
    """Preallocated buffers and gate views for one LSTM step of `batch_size` streams.

    Gates are laid out i, f, o, g with i, f, o pre-scaled by 0.5 (see Detector.__init__), so a
    single tanh plus (1 + t) / 2 on the first three quarters yields the three sigmoids.
    """

    def __init__(self, batch_size: int, hidden: int) -> None:
        self.gates = np.empty((batch_size, 4 * hidden), dtype=np.float32)
        self.tmp = np.empty((batch_size, hidden), dtype=np.float32)
        g = self.gates
        self.sig = g[:, : 3 * hidden]
        self.i, self.f = g[:, :hidden], g[:, hidden : 2 * hidden]
        self.o, self.g = g[:, 2 * hidden : 3 * hidden], g[:, 3 * hidden :]

    def advance(self, c: np.ndarray, h_out: np.ndarray) -> None:
        """From the pre-activations in `self.gates`: update cell `c` in place, write `h_out`."""
        np.tanh(self.gates, out=self.gates)
        self.sig += 1.0
        self.sig *= 0.5
        c *= self.f
        np.multiply(self.i, self.g, out=self.tmp)
        c += self.tmp
        np.tanh(c, out=self.tmp)
        np.multiply(self.o, self.tmp, out=h_out)


def model_config(weights: str | Path | None = None) -> dict:
    """The training config saved next to the weights (how the shipped model was made)."""
    path = Path(weights) if weights is not None else default_weights_path()
    cfg = path.with_suffix(".json")
    return json.loads(cfg.read_text()) if cfg.is_file() else {}
