"""Where ClassRec's time goes: the per-window path and the whole-file path, split into stages."""

from __future__ import annotations

import timeit

import numpy as np

from bench.common import Context, Section, table, windows_of
from classrec import Detector
from classrec.features import frame, log_mel
from classrec.model import as_samples


def _stages(det: Detector, batch: np.ndarray) -> dict[str, object]:
    """Callables for each stage on `batch` windows (n, 512), each run on fixed inputs."""
    gates = det._gate_inputs(batch)
    mel = log_mel(batch)
    state = det.initial_state(1)
    stages: dict[str, object] = {
        "input checks (`as_samples`)": lambda: as_samples(batch),
        "log-mel: window, rfft, power→mel matmul, log": lambda: log_mel(batch),
        "  of which numpy rfft": lambda: np.fft.rfft(batch, axis=-1),
        "MLP + LSTM input projection (3 matmuls)": lambda: _mlp(det, mel),
    }
    if len(batch) == 1:
        stages["LSTM step + head"] = lambda: det._recur(gates, state)
    else:
        stages["LSTM recurrence (Python loop over windows)"] = lambda: det._run(gates, state)
    return stages


def _mlp(det: Detector, x: np.ndarray) -> np.ndarray:
    for weight, bias in det._front:
        x = np.maximum(x @ weight + bias, 0.0)
    return x @ det._w_ih + det._b


def _measure(stages: dict[str, object], number: int, repeats: int) -> dict[str, float]:
    """Best per-call µs of each stage, interleaved across repeats."""
    best = {k: float("inf") for k in stages}
    for _ in range(repeats):
        for name, fn in stages.items():
            best[name] = min(best[name], timeit.timeit(fn, number=number) / number * 1e6)
    return best


def run(ctx: Context) -> Section:
    det = Detector(16000)
    window = windows_of(ctx.recording)[:1]
    single = _measure(
        {"whole `det(window)` call": lambda: det(window[0]), **_stages(det, window)},
        200 if ctx.quick else 2000,
        3 if ctx.quick else 7,
    )
    minute = frame(ctx.recording[: 60 * 16000], 16000)
    whole = _measure(
        {
            "whole `probabilities()`": lambda: det.probabilities(minute.reshape(-1)),
            **_stages(det, minute),
        },
        1,
        2 if ctx.quick else 5,
    )
    total1, total2 = single["whole `det(window)` call"], whole["whole `probabilities()`"]
    rows1 = [[k, f"{v:.1f}", f"{100 * v / total1:.0f}%"] for k, v in single.items()]
    rows2 = [[k, f"{v / 1000:.1f}", f"{100 * v / total2:.0f}%"] for k, v in whole.items()]
    body = (
        "Each stage timed alone on the same input (best of interleaved repeats, one core); the "
        "shares need not add up to 100% (the whole call also pays Python glue between stages).\n\n"
        "One 32 ms window (streaming):\n\n"
        + table(["stage", "µs", "share"], rows1)
        + f"\n\n{len(minute) * 0.032:.0f} s of audio at once (whole file):\n\n"
        + table(["stage", "ms", "share"], rows2)
    )
    return Section(
        "Profile: where ClassRec's time goes", body, [], {"single": single, "whole": whole}
    )
