"""Where ClassRec's time goes: every numpy call of the per-window path, and the stages of the
whole-file path."""

from __future__ import annotations

import math
import time
import timeit
from collections.abc import Callable

import numpy as np

from bench.common import Context, Section, table, windows_of
from classrec import Detector, kernels
from classrec.features import _HANN, _POWER_MEL, LOG_FLOOR, log_mel, rfft_into
from classrec.kernels import OneStream
from classrec.model import as_samples

Stages = dict[str, Callable[[], object]]


def _window_stages(det: Detector, window: np.ndarray) -> Stages:
    """One callable per numpy call of `OneStream.step`, on its own buffers (same shapes and
    arguments, so the per-call overheads are the real ones)."""
    one = OneStream(det._weights, det.window_size)
    one.step(window)
    parts = one.spectrum.view(np.float32)
    power, mel = np.abs(parts), np.abs(one.mel_out) + 1  # fixed inputs: no NaN/inf slow paths
    scratch, h_scratch, floor = np.empty_like(mel), np.empty_like(one.h), np.float32(LOG_FLOOR)
    return {
        "`OneStream.step` alone (no checks, no wrapper)": lambda: one.step(window),
        "input checks (`as_samples`: one reduction)": lambda: as_samples(window, "window"),
        "× Hann window": lambda: np.multiply(window, _HANN[512], out=one.windowed),
        "rfft (numpy's compiled kernel)": lambda: rfft_into(one.windowed, one.spectrum),
        "square re, im": lambda: np.square(power, out=parts),
        "power → mel (dot 514×40)": lambda: np.dot(power, _POWER_MEL[512], out=scratch),
        "+ floor": lambda: np.add(mel, floor, out=scratch),
        "log": lambda: np.log(mel, out=scratch),
        "MLP layer 1 (dot 41×96)": lambda: np.dot(one.mel, one.w0, out=one.x1_out),
        "ReLU (×2 in the step)": lambda: np.maximum(one.x1_out, one.zeros, out=one.x1_out),
        "MLP layer 2 (dot 97×96)": lambda: np.dot(one.x1, one.w1, out=one.x_out),
        "LSTM gates, input + recurrent + bias (dot 193×384)": lambda: np.dot(
            one.xh, one.w_lstm, out=one.pre
        ),
        "tanh of 4H gates": lambda: np.tanh(one.pre, out=one.pre),
        "σ = (1 + t) / 2 on 3H gates (2 calls)": lambda: np.add(one.sig, one.ones, out=one.sig),
        "[i, f] × [g, c]": lambda: np.multiply(one.i_f, one.g_c, out=one.products),
        "c = i g + f c": lambda: np.add(one.ig, one.fc, out=one.c),
        "tanh c": lambda: np.tanh(one.c, out=one.tanh_c),
        "h = o tanh c": lambda: np.multiply(one.o, one.tanh_c, out=h_scratch),
        "head: dot + math.tanh": lambda: (
            0.5 * (1.0 + math.tanh(float(np.dot(one.h, one.head_w)) + one.head_b))
        ),
    }


DOUBLED = {"ReLU (×2 in the step)", "σ = (1 + t) / 2 on 3H gates (2 calls)"}
NOT_CALLS = {"whole `det(window)` call", "`OneStream.step` alone (no checks, no wrapper)"}


def _file_stages(det: Detector, samples: np.ndarray) -> Stages:
    """The whole-file path's stages on one block of windows."""
    windows = samples.reshape(-1, det.window_size)
    w = det._weights
    x = kernels.mlp(w, windows)
    state = det.initial_state(1)
    stages: Stages = {
        "log-mel: window, rfft, power→mel, log": lambda: log_mel(windows),
        "  of which rfft": lambda: rfft_into(windows, np.empty((len(windows), 257), np.complex64)),
        "MLP (2 matmuls, incl. log-mel)": lambda: kernels.mlp(w, windows),
        "LSTM recurrence, numpy loop (fallback)": lambda: kernels.run_numpy(
            w, x, state, kernels.Cell(1, w.hidden)
        ),
        "head (vectorised)": lambda: kernels.head(w, x),
    }
    if det.backend == "onnxruntime":
        stages["LSTM recurrence, onnxruntime"] = lambda: kernels.run_onnx(det._session, x, state)
    return stages


def _measure(stages: Stages, number: int, repeats: int) -> dict[str, float]:
    """Best per-call µs of each stage (CPU time), interleaved across repeats."""
    best = {k: float("inf") for k in stages}
    for _ in range(repeats):
        for name, fn in stages.items():
            t = timeit.Timer(fn, timer=time.process_time).timeit(number) / number * 1e6
            best[name] = min(best[name], t)
    return best


def run(ctx: Context) -> Section:
    det = Detector(16000)
    window = windows_of(ctx.recording)[0]
    single = _measure(
        {"whole `det(window)` call": lambda: det(window), **_window_stages(det, window)},
        200 if ctx.quick else 2000,
        3 if ctx.quick else 7,
    )
    minute = ctx.recording[: 2048 * 512]
    minute = minute[: len(minute) // 512 * 512]
    whole = _measure(
        {
            "whole `probabilities()`": lambda: det.probabilities(minute, sample_rate=16000),
            **_file_stages(det, minute),
        },
        1,
        2 if ctx.quick else 7,
    )
    total1, total2 = single["whole `det(window)` call"], whole["whole `probabilities()`"]
    ops = {k: v for k, v in single.items() if k not in NOT_CALLS}
    calls = sum(2 if k in DOUBLED else 1 for k in ops)
    total_ops = sum(v * (2 if k in DOUBLED else 1) for k, v in ops.items())
    rows1 = [[k, f"{v:.2f}", f"{100 * v / total1:.0f}%"] for k, v in single.items()]
    rows1.append(
        [f"sum of the {calls} calls", f"{total_ops:.2f}", f"{100 * total_ops / total1:.0f}%"]
    )
    rows2 = [[k, f"{v / 1000:.2f}", f"{100 * v / total2:.0f}%"] for k, v in whole.items()]
    body = (
        "Each stage timed alone on the same input (CPU time, best of interleaved repeats, one "
        "core); the rest of a whole call is Python glue between the stages and cache misses "
        "(each call alone finds its weights in cache).\n\n"
        f"One 32 ms window (streaming, `det(window)`): each numpy call of the step, in order. A "
        f"call on a few hundred floats costs about 1 µs whatever it computes, so the step's "
        f"{calls} calls set its floor.\n\n"
        + table(["numpy call", "µs", "share"], rows1)
        + f"\n\n{len(minute) / 16000:.0f} s of audio at once (whole file, one block):\n\n"
        + table(["stage", "ms", "share"], rows2)
    )
    return Section(
        "Profile: where ClassRec's time goes", body, [], {"single": single, "whole": whole}
    )
