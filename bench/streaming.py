"""1. Streaming, one stream, one 32 ms window per call: µs per window, p50 and p99."""

from __future__ import annotations

import gc
import time

import numpy as np

from bench.common import Context, Section, figure, table, windows_of
from bench.contenders import OURS, contenders
from bench.profile import floors

TARGET = 10.0  # ClassRec at least 10× faster than Silero per window (p50)


def _latencies(stream, windows: np.ndarray) -> np.ndarray:
    """Seconds per call for each window, fed in order through one stateful stream."""
    out = np.empty(len(windows))
    clock = time.perf_counter
    for i, window in enumerate(windows):
        start = clock()
        stream(window)
        out[i] = clock() - start
    return out


def run(ctx: Context) -> Section:
    """Every detector scores the same windows one by one, in interleaved chunks."""
    windows = windows_of(ctx.recording)[: 200 if ctx.quick else 6000]
    dets = contenders()
    streams = {d.name: d.streaming() for d in dets}
    times: dict[str, list[np.ndarray]] = {name: [] for name in streams}
    chunk = 100 if ctx.quick else 500
    gc.disable()
    try:
        for start in range(0, len(windows), chunk):
            for name, stream in streams.items():
                times[name].append(_latencies(stream, windows[start : start + chunk]))
    finally:
        gc.enable()
    us = {name: np.concatenate(t) * 1e6 for name, t in times.items()}
    stats = {
        name: (float(np.percentile(t, 50)), float(np.percentile(t, 99))) for name, t in us.items()
    }
    ours50, ours99 = stats[OURS]
    rows = [
        [
            name,
            f"{p50:.1f}",
            f"{p99:.1f}",
            f"{p50 / ours50:.1f}×",
            f"{p99 / ours99:.1f}×",
            f"{32000 / p50:.0f}",
        ]
        for name, (p50, p99) in stats.items()
    ]
    header = [
        "detector",
        "p50 µs/window",
        "p99 µs/window",
        "ClassRec faster (p50)",
        "ClassRec faster (p99)",
        "x real time (p50)",
    ]
    floor = floors(streams[OURS], ctx.quick)["window_us"]
    silero = next((name for name in stats if name.startswith("silero")), None)
    path = figure(
        ctx.plot_path("streaming_latency.png"),
        lambda ax: _plot(ax, us),
        "Per-window latency, one stream (32 ms windows)",
    )
    body = (
        f"{len(windows)} windows of real speech ({len(windows) * 0.032:.0f} s), each detector "
        "fed one 32 ms window per call with its state carried (Silero: ONNX session, 64-sample "
        "context; TEN VAD: two 16 ms hops; WebRTC: 10 ms frames), one thread, interleaved in "
        f"chunks of {chunk} windows. Target: ClassRec ≥ {TARGET:.0f}× faster than Silero.\n\n"
        + table(header, rows)
        + _floor_note(floor, stats[silero][0] if silero else None)
    )
    results = {"stats": stats, "floor_us": floor}
    return Section("Streaming: one window at a time, one stream", body, [path], results)


def _floor_note(floor_us: float, silero_us: float | None) -> str:
    """What the arithmetic allows: the step's FFT and matrix products alone (section 8)."""
    note = (
        f"\n\nFloor: the step's FFT and its four matrix products alone take {floor_us:.1f} µs "
        "per window on this machine (section 8), with no checks or glue between them"
    )
    if silero_us is None:
        return note + "."
    return note + (
        f": at best {silero_us / floor_us:.1f}× Silero's p50 in float32 on this CPU, where the "
        f"target needs {silero_us / TARGET:.1f} µs. The LSTM's matrix product is the largest "
        "part, bound by reading its matrix once per window."
    )


def _plot(ax, us: dict[str, np.ndarray]) -> None:
    for name, t in us.items():
        q = np.linspace(0, 100, 201)
        ax.plot(np.percentile(t, q), q, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("µs per 32 ms window")
    ax.set_ylabel("percentile")
    ax.legend()
