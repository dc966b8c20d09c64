"""The detector's numerical steps, on the folded weights (classrec.checkpoint.Folded):

- `mlp`, `project`, `head`: everything that does not depend on the recurrence, for many windows
  at once (log-mel → two ReLU layers → the LSTM's input term; hidden states → probabilities);
- `Cell`: one LSTM step for a batch of streams, in preallocated buffers (`Detector.step`);
- `run_numpy`, `run_onnx`: the recurrence over a sequence of one stream (`probabilities`);
- `OneStream`: the whole model for one window of one stream, in the fewest numpy calls
  (`Detector.__call__`).

All of them give the same numbers to float32 rounding; each is arranged for the case it serves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from classrec.checkpoint import Folded
from classrec.features import log_mel, log_mel_into, power_to_mel


@dataclass
class State:
    """Recurrent state of a batch of independent streams: hidden `h`, cell `c`, (batch, hidden)."""

    h: np.ndarray
    c: np.ndarray

    @property
    def batch_size(self) -> int:
        return self.h.shape[0]


def mlp(weights: Folded, windows: np.ndarray) -> np.ndarray:
    """Log-mel and the two-layer MLP for many windows in one go: (n, window) → (n, H)."""
    x = log_mel(windows, weights.n_mels)
    for layer in weights.front:
        x = x @ layer[:-1]
        x += layer[-1]
        np.maximum(x, 0.0, out=x)
    return x


def project(weights: Folded, x: np.ndarray) -> np.ndarray:
    """The LSTM's input term and bias: MLP outputs (n, H) → gate pre-activations (n, 4H)."""
    gates = x @ weights.w_ih
    gates += weights.bias
    return gates


def head(weights: Folded, h: np.ndarray) -> np.ndarray:
    """Probabilities (batch,) from hidden states (batch, H): sigmoid of the linear head."""
    weight, bias = weights.head
    z = h @ weight
    z += bias
    np.tanh(z, out=z)
    z += 1.0
    z *= 0.5
    return z[:, 0]


def classes(weights: Folded, h: np.ndarray) -> np.ndarray:
    """(n, 3) probabilities of speech, music and other noise from hidden states (n, H)."""
    weight, bias = weights.classes  # type: ignore[misc]
    z = h @ weight + bias
    return np.column_stack([head(weights, h), 1.0 / (1.0 + np.exp(-z))]).astype(np.float32)


class Cell:
    """Preallocated buffers and gate views for one LSTM step of `batch_size` streams.

    Gates are laid out i, f, o, g with i, f, o pre-scaled by 0.5 (see `checkpoint.fold`), so a
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

    def step(self, weights: Folded, gates_in: np.ndarray, state: State) -> State:
        """One LSTM step for the batch: input terms (batch, 4H) → the new State (new arrays)."""
        np.dot(state.h, weights.w_hh, out=self.gates)
        self.gates += gates_in
        h, c = np.empty_like(state.h), state.c.copy()
        self.advance(c, h)
        return State(h, c)


def run_numpy(weights: Folded, x: np.ndarray, state: State, cell: Cell) -> np.ndarray:
    """The recurrence over a sequence for one stream in numpy, buffers reused across steps: MLP
    outputs (T, H) → hidden states (T, H); `state` is advanced. The fallback when onnxruntime is
    absent: a few µs per window, hence the preallocated views and in-place numpy calls. `cell`
    must be for batch size 1."""
    gates_in = project(weights, x)
    w_hh, gates = weights.w_hh, cell.gates
    hs = np.empty((len(gates_in) + 1, weights.hidden), dtype=np.float32)
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


def run_onnx(session: object, x: np.ndarray, state: State) -> np.ndarray:
    """The recurrence in onnxruntime (one LSTM node): MLP outputs (T, H) → hidden states (T, H);
    `state` is advanced."""
    y, h, c = session.run(  # type: ignore[attr-defined]
        None, {"X": x[:, None, :], "h0": state.h[None], "c0": state.c[None]}
    )
    state.h, state.c = h[0], c[0]
    return y.reshape(len(x), x.shape[1])


class OneStream:
    """One stream stepped one window per call (`Detector.__call__`), where numpy's fixed cost per
    call (about 0.3–1 µs) is a large part of the time, so the step is arranged for the fewest
    calls:

    - every buffer is preallocated and every op writes in place;
    - biases ride in the matmuls: each layer's input ends with a constant 1;
    - the MLP writes straight into `xh` = [x, h, 1], so the LSTM's input and recurrent terms are
      one matmul, and the new h is written back into `xh` for the next call;
    - the cell state c sits right after the g gate, so [i, f] * [g, c] is one multiply.

    21 numpy calls per window (the batched path takes 35). The state lives in the buffers;
    `state` exposes it as a State of views.
    """

    def __init__(self, weights: Folded, window_size: int) -> None:
        n, hidden = window_size, weights.hidden
        self.w0, self.w1 = weights.front
        self.w_lstm = weights.lstm
        head_w, head_b = weights.head
        self.head_w, self.head_b = np.ascontiguousarray(head_w[:, 0]), float(head_b[0])
        self.windowed = np.empty(n, np.float32)
        self.spectrum = np.empty(n // 2 + 1, np.complex64)
        self.mel = np.ones(weights.n_mels + 1, np.float32)  # [log-mel, 1]
        self.to_mel = power_to_mel(n, weights.n_mels)
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
        self.h[:] = 0.0  # a fresh stream: h = c = 0
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
        log_mel_into(window, self.windowed, self.spectrum, self.mel_out, self.to_mel)
        # outputs positional where numpy allows it: it parses `out=` on every call (~0.05 µs)
        np.dot(self.mel, self.w0, self.x1_out)
        np.maximum(self.x1_out, self.zeros, out=self.x1_out)
        np.dot(self.x1, self.w1, self.x_out)
        np.maximum(self.x_out, self.zeros, out=self.x_out)
        np.dot(self.xh, self.w_lstm, self.pre)
        np.tanh(self.pre, self.pre)
        np.add(self.sig, self.ones, self.sig)
        np.multiply(self.sig, self.halves, self.sig)
        np.multiply(self.i_f, self.g_c, self.products)
        np.add(self.ig, self.fc, self.c)
        np.tanh(self.c, self.tanh_c)
        np.multiply(self.o, self.tanh_c, self.h)
        return 0.5 * (1.0 + math.tanh(float(np.dot(self.h, self.head_w)) + self.head_b))
