"""The speech detector at run time: log-mel front end → MLP → LSTM (h, c carried) → sigmoid.

numpy only. The training recipe (classrec.train) builds the same network in torch and exports its
weights to `weights/classrec-vad.npz`; tests check both give the same probabilities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from classrec.errors import ClassRecError
from classrec.features import frame, log_mel, window_samples

WEIGHTS_NAME = "classrec-vad"


@dataclass
class State:
    """Recurrent state of a batch of independent streams: hidden `h` and cell `c`, (batch, hidden)."""

    h: np.ndarray
    c: np.ndarray

    @property
    def batch_size(self) -> int:
        return self.h.shape[0]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)


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
        self._mean, self._scale = w["norm_mean"], 1.0 / w["norm_std"]
        self._front = [(w["front.0.weight"].T.copy(), w["front.0.bias"]),
                       (w["front.2.weight"].T.copy(), w["front.2.bias"])]
        self._w_ih = w["lstm.weight_ih_l0"].T.copy()
        self._w_hh = w["lstm.weight_hh_l0"].T.copy()
        self._b = w["lstm.bias_ih_l0"] + w["lstm.bias_hh_l0"]
        self._head_w, self._head_b = w["head.weight"].T.copy(), w["head.bias"]
        self.hidden_size = self._w_hh.shape[0]
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
        x = (log_mel(windows) - self._mean) * self._scale
        for weight, bias in self._front:
            x = np.maximum(x @ weight + bias, 0.0)
        return x @ self._w_ih + self._b

    def _recur(self, gates_in: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """One LSTM step for a batch: gates_in (batch, 4H) → probabilities (batch,), new state."""
        hsz = self.hidden_size
        gates = gates_in + state.h @ self._w_hh
        i = _sigmoid(gates[:, :hsz])
        f = _sigmoid(gates[:, hsz : 2 * hsz])
        g = np.tanh(gates[:, 2 * hsz : 3 * hsz])
        o = _sigmoid(gates[:, 3 * hsz :])
        c = f * state.c + i * g
        h = o * np.tanh(c)
        prob = _sigmoid(h @ self._head_w + self._head_b)[:, 0]
        return prob, State(h, c)

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
        probs = np.empty(len(gates_in), dtype=np.float32)
        for t, g in enumerate(gates_in):
            p, new = self._recur(g[None, :], state)
            probs[t] = p[0]
            state.h, state.c = new.h, new.c
        return probs


def model_config(weights: str | Path | None = None) -> dict:
    """The training config saved next to the weights (how the shipped model was made)."""
    path = Path(weights) if weights is not None else default_weights_path()
    cfg = path.with_suffix(".json")
    return json.loads(cfg.read_text()) if cfg.is_file() else {}
