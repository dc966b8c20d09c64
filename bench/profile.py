"""8. Where ClassRec's time goes, and the floor under it: every numpy call of the per-window step,
the stages of the whole-file path, and what the arithmetic alone costs on this CPU.

Sizes come from the loaded weights, so the tables describe the shipped model, whatever its size.
"""

from __future__ import annotations

import math
import time
import timeit
from collections.abc import Callable

import numpy as np

from bench.common import Context, Section, table, windows_of
from classrec import Detector, kernels
from classrec.features import HANN, LOG_FLOOR, log_mel, power_to_mel, rfft_into
from classrec.kernels import OneStream
from classrec.model import CHUNK_WINDOWS, as_samples

Stages = dict[str, Callable[[], object]]
GEMM_ROWS = 2048
"""Rows of the large product that measures float32 BLAS's best rate on the model's shapes."""


def _shape(a: np.ndarray) -> str:
    return "×".join(str(n) for n in a.shape)


def _window_stages(det: Detector, window: np.ndarray) -> Stages:
    """One callable per numpy call of `OneStream.step`, on its own buffers (same shapes and
    arguments, so the per-call overheads are the real ones)."""
    one = OneStream(det._weights, det.window_size)
    one.step(window)
    parts = one.spectrum.view(np.float32)
    power, mel = np.abs(parts), np.abs(one.mel_out) + 1  # fixed inputs: no NaN/inf slow paths
    scratch, h_scratch, floor = np.empty_like(mel), np.empty_like(one.h), np.float32(LOG_FLOOR)
    pm = power_to_mel(det.window_size, det._weights.n_mels)
    return {
        "`OneStream.step` alone (no checks, no wrapper)": lambda: one.step(window),
        "input checks (`as_samples`: one reduction)": lambda: as_samples(window, "window"),
        "× Hann window": lambda: np.multiply(window, HANN[det.window_size], one.windowed),
        "rfft (numpy's compiled kernel)": lambda: rfft_into(one.windowed, one.spectrum),
        "square re, im": lambda: np.square(power, parts),
        f"power → mel (dot {_shape(pm)})": lambda: np.dot(power, pm, scratch),
        "+ floor": lambda: np.add(mel, floor, scratch),
        "log": lambda: np.log(mel, scratch),
        f"MLP layer 1 (dot {_shape(one.w0)})": lambda: np.dot(one.mel, one.w0, one.x1_out),
        "ReLU (×2 in the step)": lambda: np.maximum(one.x1_out, one.zeros, out=one.x1_out),
        f"MLP layer 2 (dot {_shape(one.w1)})": lambda: np.dot(one.x1, one.w1, one.x_out),
        f"LSTM gates, input + recurrent + bias (dot {_shape(one.w_lstm)})": lambda: np.dot(
            one.xh, one.w_lstm, one.pre
        ),
        "tanh of 4H gates": lambda: np.tanh(one.pre, one.pre),
        "σ = (1 + t) / 2 on 3H gates (2 calls)": lambda: np.add(one.sig, one.ones, one.sig),
        "[i, f] × [g, c]": lambda: np.multiply(one.i_f, one.g_c, one.products),
        "c = i g + f c": lambda: np.add(one.ig, one.fc, one.c),
        "tanh c": lambda: np.tanh(one.c, one.tanh_c),
        "h = o tanh c": lambda: np.multiply(one.o, one.tanh_c, h_scratch),
        "head: dot + math.tanh": lambda: (
            0.5 * (1.0 + math.tanh(float(np.dot(one.h, one.head_w)) + one.head_b))
        ),
    }


DOUBLED = {"ReLU (×2 in the step)", "σ = (1 + t) / 2 on 3H gates (2 calls)"}
NOT_CALLS = {"whole `det(window)` call", "`OneStream.step` alone (no checks, no wrapper)"}
ARITHMETIC = ("rfft", "power → mel", "MLP layer 1", "MLP layer 2", "LSTM gates")
"""The step's calls that compute (the FFT and the four matrix products): its floor."""


def _file_stages(det: Detector, windows: np.ndarray) -> Stages:
    """The whole-file path's stages on one block of windows, and the recurrence's bound."""
    w = det._weights
    x = kernels.mlp(w, windows)
    state = det.initial_state(1)
    stages: Stages = {
        "log-mel: window, rfft, power→mel, log": lambda: log_mel(windows, w.n_mels),
        "  of which rfft": lambda: rfft_into(windows, np.empty((len(windows), 257), np.complex64)),
        "log-mel + MLP (2 matmuls)": lambda: kernels.mlp(w, windows),
        "LSTM input term (one matmul, inside either recurrence)": lambda: kernels.project(w, x),
        "LSTM recurrence, numpy loop (fallback)": lambda: kernels.run_numpy(
            w, x, state, kernels.Cell(1, w.hidden)
        ),
        "head (vectorised)": lambda: kernels.head(w, x),
        "bound: the recurrent term as one matmul (what batching the recurrence could reach)": (
            lambda: x @ w.w_hh
        ),
    }
    if det.backend == "onnxruntime":
        stages["LSTM recurrence, onnxruntime (input term included)"] = lambda: kernels.run_onnx(
            det._session, x, state
        )
    return stages


def _measure(stages: Stages, number: int, repeats: int) -> dict[str, float]:
    """Best per-call µs of each stage (CPU time), interleaved across repeats."""
    best = {k: float("inf") for k in stages}
    for _ in range(repeats):
        for name, fn in stages.items():
            t = timeit.Timer(fn, timer=time.process_time).timeit(number) / number * 1e6
            best[name] = min(best[name], t)
    return best


def macs_per_window(det: Detector) -> int:
    """Multiply-adds of the model per window: power→mel, the two MLP layers, the LSTM's input
    and recurrent terms, the head (the FFT's ~10k flops and the elementwise work come on top)."""
    w = det._weights
    mel = power_to_mel(det.window_size, w.n_mels)
    matrices = [mel, w.front[0][:-1], w.front[1][:-1], w.w_ih, w.w_hh, w.head[0]]
    return sum(m.shape[0] * m.shape[1] for m in matrices)


def floors(det: Detector, quick: bool = False) -> dict[str, float]:
    """What the arithmetic alone costs on this CPU, one core:

    - `window_us`: one window, the step's FFT and four matrix products each timed alone at its
      fastest, with no checks, glue or elementwise work between them;
    - `file_us`: per window of a whole file, the model's multiply-adds at the rate float32 BLAS
      reaches on a large matrix product of the model's shape (`gemm_gmacs`, 10⁹ MAC/s): the
      most any reordering of the same float32 arithmetic (batching the recurrence included)
      could reach;
    - `lstm_gmacs`: the single-window LSTM product's rate (10⁹ MAC/s), far below `gemm_gmacs`:
      each weight is read once per window and used once, so the product is bound by reading
      its matrix (`lstm_kb`), not by multiplying.
    """
    window = np.random.default_rng(0).standard_normal(det.window_size).astype(np.float32)
    stages = _window_stages(det, window)
    arithmetic = {k: f for k, f in stages.items() if k.startswith(ARITHMETIC)}
    best = _measure(arithmetic, 200 if quick else 2000, 3 if quick else 7)
    w = det._weights
    x = np.random.default_rng(1).standard_normal((GEMM_ROWS, w.hidden)).astype(np.float32)
    bulk = _measure({"gemm": lambda: x @ w.w_hh}, 3 if quick else 20, 3 if quick else 7)
    gemm_gmacs = GEMM_ROWS * w.hidden * 4 * w.hidden / bulk["gemm"] / 1e3
    lstm_us = next(v for k, v in best.items() if k.startswith("LSTM gates"))
    return {
        "window_us": sum(best.values()),
        "file_us": macs_per_window(det) / gemm_gmacs / 1e3,
        "gemm_gmacs": gemm_gmacs,
        "lstm_gmacs": w.lstm.size / lstm_us / 1e3,
        "lstm_kb": w.lstm.nbytes / 1024,
        "macs": macs_per_window(det),
    }


def run(ctx: Context) -> Section:
    det = Detector(16000)
    window = windows_of(ctx.recording)[0]
    single = _measure(
        {"whole `det(window)` call": lambda: det(window), **_window_stages(det, window)},
        200 if ctx.quick else 2000,
        3 if ctx.quick else 7,
    )
    block = windows_of(ctx.recording)[:CHUNK_WINDOWS]
    samples = block.reshape(-1)
    whole = _measure(
        {
            "whole `probabilities()`": lambda: det.probabilities(samples, sample_rate=16000),
            **_file_stages(det, block),
        },
        1 if ctx.quick else 5,
        2 if ctx.quick else 7,
    )
    floor = floors(det, ctx.quick)
    total1, total2 = single["whole `det(window)` call"], whole["whole `probabilities()`"]
    ops = {k: v for k, v in single.items() if k not in NOT_CALLS}
    calls = sum(2 if k in DOUBLED else 1 for k in ops)
    total_ops = sum(v * (2 if k in DOUBLED else 1) for k, v in ops.items())
    rows1 = [[k, f"{v:.2f}", f"{100 * v / total1:.0f}%"] for k, v in single.items()]
    rows1.append(
        [f"sum of the {calls} calls", f"{total_ops:.2f}", f"{100 * total_ops / total1:.0f}%"]
    )
    rows1.append(
        [
            "floor: the FFT and the four matrix products alone",
            f"{floor['window_us']:.2f}",
            f"{100 * floor['window_us'] / total1:.0f}%",
        ]
    )
    n = len(block)
    rows2 = [
        [k, f"{v / 1000:.2f}", f"{v / n:.2f}", f"{100 * v / total2:.0f}%"] for k, v in whole.items()
    ]
    rows2.append(
        [
            f"floor: {floor['macs'] / 1e3:.0f}k MAC/window at {floor['gemm_gmacs']:.0f} G MAC/s",
            f"{floor['file_us'] * n / 1000:.2f}",
            f"{floor['file_us']:.2f}",
            f"{100 * floor['file_us'] * n / total2:.0f}%",
        ]
    )
    body = (
        "Each stage timed alone on the same input (CPU time, best of interleaved repeats, one "
        "core); the rest of a whole call is Python glue between the stages and cache misses "
        "(each call alone finds its weights in cache).\n\n"
        f"One 32 ms window (streaming, `det(window)`): each numpy call of the step, in order. "
        f"Most of the step is arithmetic, not call overhead: the FFT and the four matrix "
        f"products alone (the floor row) take {floor['window_us']:.1f} µs, however few the "
        f"calls around them. The LSTM product, the largest, runs at "
        f"{floor['lstm_gmacs']:.0f} G MAC/s where a large product reaches "
        f"{floor['gemm_gmacs']:.0f}: one window uses each weight of its "
        f"{floor['lstm_kb']:.0f} kB matrix once, so reading the matrix bounds it."
        "\n\n"
        + table(["numpy call", "µs", "share"], rows1)
        + f"\n\n{n * 0.032:.0f} s of audio at once (whole file, one block of {n} windows). The "
        f"floor row is the model's multiply-adds at the rate float32 BLAS reaches on one "
        f"large product of the model's shape ({floor['gemm_gmacs']:.0f} G MAC/s on this core): "
        "no reordering of the same float32 arithmetic (batching the recurrence over chunks of "
        "the file included) gets under it.\n\n"
        + table(["stage", "ms", "µs per window", "share"], rows2)
    )
    return Section(
        "Profile: where ClassRec's time goes",
        body,
        [],
        {"single": single, "whole": whole, "floors": floor},
    )
