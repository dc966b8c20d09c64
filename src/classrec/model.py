"""The speech detector at run time: log-mel front end → MLP → LSTM (h, c carried) → sigmoid.

numpy, plus onnxruntime when installed for the LSTM recurrence over whole signals (a Python loop
in numpy otherwise). The training recipe (classrec.train) builds the same network in torch and
exports its weights to `weights/classrec-vad.npz` and the LSTM alone to `classrec-vad.onnx`;
tests check all paths give the same probabilities.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from classrec.errors import ClassRecError
from classrec.features import N_MELS, frame, log_mel, log_mel_into, window_samples

WEIGHTS_NAME = "classrec-vad"
BACKENDS = ("auto", "numpy", "onnxruntime")
ONNX_HASH_KEY = "npz_sha256"
"""Metadata key of the .onnx holding the SHA-256 of the .npz it was exported from."""
CHUNK_WINDOWS = 2048
"""Windows per block in `probabilities` (65 s at 16 kHz): bounds the temporaries on long input."""
MIN_ONNX_WINDOWS = 2
"""Below this many windows the numpy loop beats onnxruntime's fixed cost per call (~25 µs)."""


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
    # A finite sum means every value is finite (NaN and ±inf propagate), and one reduction costs
    # a third of the full check on a window; only a non-finite sum (or an overflowing one) needs
    # the full check to decide.
    if not math.isfinite(np.add.reduce(array, axis=None)) and not np.isfinite(array).all():
        raise ClassRecError(f"{what} contain NaN or infinite values: clean the audio first")
    return array


def _augmented(weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(in, out) weight with the bias as an extra last row: `[x, 1] @ W` is `x @ weight + bias`,
    so a step that keeps a constant 1 after its input needs no separate bias addition."""
    return np.ascontiguousarray(np.vstack([weight, bias[None, :]]), dtype=np.float32)


def _fold(w: dict[str, np.ndarray], hidden: int) -> tuple[list[np.ndarray], np.ndarray, tuple]:
    """Exported weights → the runtime's layout, rearranged for speed (exact algebra, float32
    rounding only): the normalisation is folded into the first layer; each layer's bias is its
    last row (`_augmented`); the LSTM's input, recurrent and bias terms are one matrix with rows
    [W_ih; W_hh; b]; its gates are reordered i, f, o, g with the sigmoid gates (and the head)
    pre-scaled by 0.5, so one tanh gives sigmoid(x) = 0.5 (1 + tanh(x / 2)) for all of them."""
    mean, scale = w["norm_mean"].astype(np.float64), 1.0 / w["norm_std"].astype(np.float64)
    w0, b0 = w["front.0.weight"].T.astype(np.float64), w["front.0.bias"].astype(np.float64)
    front = [
        _augmented(scale[:, None] * w0, b0 - (mean * scale) @ w0),
        _augmented(w["front.2.weight"].T, w["front.2.bias"]),
    ]
    order = np.r_[0 : 2 * hidden, 3 * hidden : 4 * hidden, 2 * hidden : 3 * hidden]  # ifgo→ifog
    gate_scale = np.where(np.arange(4 * hidden) < 3 * hidden, 0.5, 1.0).astype(np.float32)
    lstm = np.vstack(
        [
            w["lstm.weight_ih_l0"][order].T,
            w["lstm.weight_hh_l0"][order].T,
            (w["lstm.bias_ih_l0"] + w["lstm.bias_hh_l0"])[order][None, :],
        ]
    )
    lstm = np.ascontiguousarray(lstm * gate_scale, dtype=np.float32)
    head = (np.float32(0.5) * w["head.weight"].T, np.float32(0.5) * w["head.bias"])
    return front, lstm, head


def weights_sha256(path: Path) -> str:
    """Hex SHA-256 of a weights file: ties an exported .onnx to the exact .npz it came from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _onnx_lstm(weights: Path) -> tuple[object | None, str]:
    """An onnxruntime session for the LSTM exported next to `weights` (classrec.train.export_onnx),
    or None and why not. The .onnx must carry the SHA-256 of this very .npz: a stale export is
    never used. One intra-op thread: the recurrence is sequential, more threads only spin."""
    path = weights.with_suffix(".onnx")
    if not path.is_file():
        return None, f"no {path.name} next to the weights (python -m classrec.train.export_onnx)"
    try:
        import onnxruntime as ort
    except ImportError:
        return None, "onnxruntime is not installed (pip install onnxruntime)"
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False  # 10 MB less resident memory, measured no slower
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    stored = session.get_modelmeta().custom_metadata_map.get(ONNX_HASH_KEY)
    if stored != weights_sha256(weights):
        return None, f"{path.name} was exported from other weights: re-run the export"
    return session, ""


class Detector:
    """Speech probability per 32 ms window, with LSTM state carried across windows.

    >>> det = Detector(sample_rate=16000)
    >>> p = det.probabilities(samples)          # whole signal, fresh state
    >>> det.reset(); q = det(samples[:512])     # streaming, one window per call
    >>> state = det.initial_state(8)            # eight independent streams
    >>> probs, state = det.step(windows_8x512, state)

    `backend` chooses how `probabilities` runs the recurrence over many windows: "onnxruntime"
    (compiled; needs onnxruntime and the .onnx exported from these weights), "numpy" (a Python
    loop, a few µs per window), or "auto" (onnxruntime when available). Both give the same
    probabilities to float32 rounding; everything else is numpy in either case.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        weights: str | Path | None = None,
        backend: str = "auto",
    ) -> None:
        if backend not in BACKENDS:
            raise ClassRecError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.window_size = window_samples(sample_rate)
        self.sample_rate = sample_rate
        self._weights_path = Path(weights) if weights is not None else default_weights_path()
        w = load_weights(self._weights_path)
        self.hidden_size = w["lstm.weight_hh_l0"].shape[1]
        self._front, self._lstm, self._head_wb = _fold(w, self.hidden_size)
        self._classes_wb = (
            (w["classes.weight"].T.copy(), w["classes.bias"]) if "classes.weight" in w else None
        )
        self._local = threading.local()  # per-thread LSTM buffers: the web app steps in threads
        self._one: _OneStream | None = None
        self._session: object | None = None
        self._backend = backend if backend != "auto" else None
        if backend == "onnxruntime":
            self._session, why = _onnx_lstm(self._weights_path)
            if self._session is None:
                raise ClassRecError(f"backend 'onnxruntime' unavailable: {why}")
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
            self._session, why = _onnx_lstm(self._weights_path)
            if self._session is None:
                raise ClassRecError(f"backend 'onnxruntime' unavailable: {why}")

    @property
    def backend(self) -> str:
        """The recurrence engine `probabilities` uses: "onnxruntime" or "numpy"."""
        if self._backend is None:  # "auto", resolved on first use (importing onnxruntime costs)
            self._session = _onnx_lstm(self._weights_path)[0]
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

    # -- computation -------------------------------------------------------------------------
    def _mlp(self, windows: np.ndarray) -> np.ndarray:
        """Log-mel and the two-layer MLP for many windows in one go: (n, window) → (n, H)."""
        x = log_mel(windows)
        for weight in self._front:
            x = x @ weight[:-1]
            x += weight[-1]
            np.maximum(x, 0.0, out=x)
        return x

    def _gate_inputs(self, windows: np.ndarray) -> np.ndarray:
        """Everything that does not depend on the recurrence: (n, window) → (n, 4H)."""
        return self._project(self._mlp(windows))

    def _project(self, x: np.ndarray) -> np.ndarray:
        """The LSTM's input term and bias: MLP outputs (n, H) → gate pre-activations (n, 4H)."""
        hidden = self.hidden_size
        gates = x @ self._lstm[:hidden]
        gates += self._lstm[-1]
        return gates

    def _cell(self, batch_size: int) -> _Cell:
        """This thread's reusable LSTM buffers for one batch size (few sizes occur in practice)."""
        cells = getattr(self._local, "cells", None)
        if cells is None or len(cells) > 8:
            cells = self._local.cells = {}
        cell = cells.get(batch_size)
        if cell is None:
            cell = cells[batch_size] = _Cell(batch_size, self.hidden_size)
        return cell

    @property
    def _w_hh(self) -> np.ndarray:
        return self._lstm[self.hidden_size : 2 * self.hidden_size]

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
            one = self._one = _OneStream(self)
        if self.state is not one.state:
            self.state = one.load(self.state)
        return one.step(window)

    def probabilities(
        self, samples: np.ndarray, state: State | None = None, *, sample_rate: int | None = None
    ) -> np.ndarray:
        """One probability per window for a whole 1-D signal (last window zero-padded).

        `sample_rate` (Hz), when given, must be the detector's: windows are counted in samples,
        so audio at another rate would silently get windows of the wrong length
        (`classrec.probabilities` resamples audio of any rate and shape instead).

        Runs in blocks of CHUNK_WINDOWS windows (bounded memory on long signals): the front end
        and head on all windows of a block at once, the recurrence in onnxruntime or a numpy
        loop (`backend`). Starts from a fresh state unless one is given (it is then advanced in
        place, so consecutive calls continue a signal exactly).
        """
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise ClassRecError(
                f"this detector runs at {self.sample_rate} Hz, got samples at {sample_rate} Hz: "
                "resample first, or call classrec.probabilities(samples, sample_rate=...)"
            )
        out = np.empty(-(-len(as_samples(samples)) // self.window_size), dtype=np.float32)
        done = 0
        for hs in self._hidden_blocks(samples, state):
            out[done : done + len(hs)] = self._head(hs)
            done += len(hs)
        return out

    CLASSES = ("speech", "music", "noise")
    """Columns of `classes`: speech, music audible, other noise audible (bangs, ambience, …)."""

    def classes(self, samples: np.ndarray, state: State | None = None) -> np.ndarray:
        """(n_windows, 3) probabilities of speech, music and other noise per window.

        The three are independent sigmoids on the same LSTM state (speech over music is both
        speech and music). Needs weights trained with the class head (the shipped ones are)."""
        if self._classes_wb is None:
            raise ClassRecError(
                "these weights have no music/noise head: retrain or use the shipped ones"
            )
        weight, bias = self._classes_wb
        parts = []
        for hs in self._hidden_blocks(samples, state):
            z = hs @ weight + bias
            parts.append(np.column_stack([self._head(hs), 1.0 / (1.0 + np.exp(-z))]))
        out = np.concatenate(parts) if parts else np.empty((0, 3))
        return out.astype(np.float32)

    def _hidden_blocks(self, samples: np.ndarray, state: State | None) -> Iterator[np.ndarray]:
        """LSTM outputs (T, H) of a 1-D signal, block by block; `state` advanced in place."""
        samples = as_samples(samples)
        if samples.ndim != 1:
            raise ClassRecError(f"samples must be 1-D (mono), got shape {samples.shape}")
        state = state if state is not None else self.initial_state(1)
        for block in self._blocks(samples):
            x = self._mlp(block)
            yield self._run_onnx(x, state) if self._use_onnx(len(x)) else self._run(x, state)

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

    def _use_onnx(self, n_windows: int) -> bool:
        """onnxruntime for the recurrence when set up and worth its per-call overhead."""
        return n_windows >= MIN_ONNX_WINDOWS and self.backend == "onnxruntime"

    def _run_onnx(self, x: np.ndarray, state: State) -> np.ndarray:
        """The recurrence in onnxruntime (one LSTM node): MLP outputs (T, H) → hidden states
        (T, H); `state` is advanced."""
        y, h, c = self._session.run(  # type: ignore[union-attr]
            None, {"X": x[:, None, :], "h0": state.h[None], "c0": state.c[None]}
        )
        state.h, state.c = h[0], c[0]
        return y.reshape(len(x), self.hidden_size)

    def _run(self, x: np.ndarray, state: State) -> np.ndarray:
        """The recurrence over a sequence for one stream in numpy, buffers reused across steps:
        MLP outputs (T, H) → hidden states (T, H); `state` is advanced. The fallback when
        onnxruntime is absent: a few µs per window, hence the preallocated views and in-place
        numpy calls."""
        gates_in = self._project(x)
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

    Gates are laid out i, f, o, g with i, f, o pre-scaled by 0.5 (see `_fold`), so a single tanh
    plus (1 + t) / 2 on the first three quarters yields the three sigmoids.
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


class _OneStream:
    """One stream stepped one window per call (`Detector.__call__`), where numpy's fixed cost per
    call (about 1 µs) is most of the time, so the step is arranged for the fewest calls:

    - every buffer is preallocated and every op writes in place;
    - biases ride in the matmuls: each layer's input ends with a constant 1 (`_augmented`);
    - the MLP writes straight into `xh` = [x, h, 1], so the LSTM's input and recurrent terms are
      one matmul, and the new h is written back into `xh` for the next call;
    - the cell state c sits right after the g gate, so [i, f] * [g, c] is one multiply.

    21 numpy calls per window (the batched path takes 35). The state lives in the buffers;
    `state` exposes it as a State of views.
    """

    def __init__(self, det: Detector) -> None:
        n, hidden = det.window_size, det.hidden_size
        self.w0, self.w1 = det._front
        self.w_lstm = det._lstm
        head_w, head_b = det._head_wb
        self.head_w, self.head_b = np.ascontiguousarray(head_w[:, 0]), float(head_b[0])
        self.windowed = np.empty(n, np.float32)
        self.spectrum = np.empty(n // 2 + 1, np.complex64)
        self.mel = np.ones(N_MELS + 1, np.float32)  # [log-mel, 1]
        self.x1 = np.ones(hidden + 1, np.float32)  # [first layer, 1]
        self.xh = np.ones(2 * hidden + 1, np.float32)  # [second layer, h, 1]
        self.gates = np.zeros(5 * hidden, np.float32)  # [i, f, o, g, c]
        self.products = np.empty(2 * hidden, np.float32)
        self.tanh_c = np.empty(hidden, np.float32)
        h3 = 3 * hidden
        self.mel_out, self.x1_out, self.x_out = self.mel[:-1], self.x1[:-1], self.xh[:hidden]
        self.h, self.c = self.xh[hidden : 2 * hidden], self.gates[4 * hidden :]
        self.pre, self.sig = self.gates[: 4 * hidden], self.gates[:h3]
        self.i_f, self.g_c, self.o = (
            self.gates[: 2 * hidden],
            self.gates[h3:],
            self.gates[2 * hidden : h3],
        )
        self.ig, self.fc = self.products[:hidden], self.products[hidden:]
        self.state = State(self.h[None, :], self.c[None, :])
        # arrays, not Python floats: numpy converts a scalar operand on every call (~0.5 µs)
        self.zeros, self.ones = np.zeros(hidden, np.float32), np.ones(h3, np.float32)
        self.halves = np.full(h3, 0.5, np.float32)

    def load(self, state: State) -> State:
        """Continue from `state` (copied into the buffers); returns the buffers' State."""
        self.h[:] = state.h[0]
        self.c[:] = state.c[0]
        return self.state

    def step(self, window: np.ndarray) -> float:
        """Advance by one window (float32, shape (window,)); returns its probability."""
        log_mel_into(window, self.windowed, self.spectrum, self.mel_out)
        np.dot(self.mel, self.w0, out=self.x1_out)
        np.maximum(self.x1_out, self.zeros, out=self.x1_out)
        np.dot(self.x1, self.w1, out=self.x_out)
        np.maximum(self.x_out, self.zeros, out=self.x_out)
        np.dot(self.xh, self.w_lstm, out=self.pre)
        np.tanh(self.pre, out=self.pre)
        np.add(self.sig, self.ones, out=self.sig)
        np.multiply(self.sig, self.halves, out=self.sig)
        np.multiply(self.i_f, self.g_c, out=self.products)
        np.add(self.ig, self.fc, out=self.c)
        np.tanh(self.c, out=self.tanh_c)
        np.multiply(self.o, self.tanh_c, out=self.h)
        return 0.5 * (1.0 + math.tanh(float(np.dot(self.h, self.head_w)) + self.head_b))


def model_config(weights: str | Path | None = None) -> dict:
    """The training config saved next to the weights (how the shipped model was made)."""
    path = Path(weights) if weights is not None else default_weights_path()
    cfg = path.with_suffix(".json")
    return json.loads(cfg.read_text()) if cfg.is_file() else {}
