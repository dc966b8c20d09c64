"""classrec.kernels and classrec.checkpoint: every arrangement of the arithmetic (folded weights,
single-window step, batched step, numpy and onnxruntime recurrences) against the network written
out plainly from the exported weights, in float64, on real audio. Needs no torch."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from classrec import ClassRecError, kernels
from classrec.checkpoint import default_weights_path, fold, load_weights, onnx_lstm
from classrec.features import frame, log_mel

N = 120  # windows of the lecture fixture (3.8 s: speech and room tone)
TOL = 5e-5  # float32 against float64: measured up to 1.5e-5 on hidden states


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _reference(w: dict[str, np.ndarray], windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exported network as trained (torch's layout and gate order i, f, g, o), float64:
    per-window speech probabilities (n,) and LSTM hidden states (n, H)."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    x = (log_mel(windows).astype(np.float64) - w["norm_mean"]) / w["norm_std"]
    x = np.maximum(x @ w["front.0.weight"].T + w["front.0.bias"], 0)
    x = np.maximum(x @ w["front.2.weight"].T + w["front.2.bias"], 0)
    hidden = w["lstm.weight_hh_l0"].shape[1]
    h, c, hs = np.zeros(hidden), np.zeros(hidden), []
    for xt in x:
        z = w["lstm.weight_ih_l0"] @ xt + w["lstm.weight_hh_l0"] @ h
        z += w["lstm.bias_ih_l0"] + w["lstm.bias_hh_l0"]
        i, f, g, o = np.split(z, 4)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        hs.append(h)
    hs = np.array(hs)
    return _sigmoid(hs @ w["head.weight"][0] + w["head.bias"][0]), hs


@pytest.fixture(scope="module")
def case(lecture) -> tuple[kernels.Folded, np.ndarray, np.ndarray, np.ndarray]:
    raw = load_weights()
    windows = frame(lecture[0], 16000)[:N]
    probs, hs = _reference(raw, windows)
    return fold(raw), windows, probs, hs


def test_single_window_step_is_the_network(case) -> None:
    weights, windows, probs, _ = case
    one = kernels.OneStream(weights, 512)
    got = np.array([one.step(w) for w in windows])
    assert np.abs(got - probs).max() < TOL
    assert probs.min() < 0.2 and probs.max() > 0.8  # the excerpt has speech and silence


def test_batched_step_keeps_streams_apart(case) -> None:
    """Three streams in one batch: the lecture, silence, the lecture reversed in time."""
    weights, windows, probs, _ = case
    raw = load_weights()
    others = [np.zeros_like(windows), windows[::-1].copy()]
    want = [probs, *(_reference(raw, o)[0] for o in others)]
    cell = kernels.Cell(3, weights.hidden)
    zeros = np.zeros((3, weights.hidden), np.float32)
    state, got = kernels.State(zeros, zeros.copy()), []
    for t in range(N):
        batch = np.stack([windows[t], others[0][t], others[1][t]])
        state = cell.step(weights, kernels.project(weights, kernels.mlp(weights, batch)), state)
        got.append(kernels.head(weights, state.h))
    assert np.abs(np.array(got) - np.array(want).T).max() < TOL


@pytest.mark.parametrize("engine", ["numpy", "onnxruntime"])
def test_sequence_recurrences_are_the_network(case, engine: str) -> None:
    weights, windows, probs, hs = case
    x = kernels.mlp(weights, windows)
    zeros = np.zeros((1, weights.hidden), np.float32)
    state = kernels.State(zeros, zeros.copy())
    if engine == "numpy":
        got = kernels.run_numpy(weights, x, state, kernels.Cell(1, weights.hidden))
    else:
        if importlib.util.find_spec("onnxruntime") is None:
            pytest.skip("onnxruntime not installed")
        got = kernels.run_onnx(onnx_lstm(default_weights_path())[0], x, state)
    assert np.abs(got - hs).max() < TOL
    assert np.abs(kernels.head(weights, got) - probs).max() < TOL
    np.testing.assert_allclose(state.h[0], hs[-1], atol=TOL)  # the state is advanced


def test_onnx_export_is_found_only_beside_its_own_weights(tmp_path: Path) -> None:
    weights = tmp_path / "w.npz"
    shutil.copy(default_weights_path(), weights)
    session, why = onnx_lstm(weights)
    assert session is None and "no w.onnx next to the weights" in why
    with pytest.raises(ClassRecError, match="weights file not found"):
        load_weights(tmp_path / "missing.npz")
