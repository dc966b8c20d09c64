"""3. Many streams in one process: windows/s with N streams stepped together (batched state)."""

from __future__ import annotations

import numpy as np

from bench.common import Context, Section, figure, table, timed, windows_of
from bench.growth import slope
from classrec import Detector
from classrec.errors import ClassRecError
from classrec.lab.peers import SILERO_CONTEXT, WINDOW, onnx_session, silero_model_path

COUNTS = [1, 10, 100, 1000]


class SileroBatch:
    """Silero v6 ONNX stepping N streams in one call: input (N, 64 + 512), state (2, N, 128)."""

    def __init__(self) -> None:
        self.session = onnx_session(silero_model_path("silero_vad.onnx"), threads=1)

    def run(self, batches: list[np.ndarray]) -> None:
        n = len(batches[0])
        x = np.zeros((n, SILERO_CONTEXT + WINDOW), dtype=np.float32)
        state = np.zeros((2, n, 128), dtype=np.float32)
        sr = np.array(16000, dtype=np.int64)
        for windows in batches:
            x[:, SILERO_CONTEXT:] = windows
            _, state = self.session.run(None, {"input": x, "state": state, "sr": sr})
            x[:, :SILERO_CONTEXT] = x[:, -SILERO_CONTEXT:]


def _batches(windows: np.ndarray, n: int, steps: int) -> list[np.ndarray]:
    """`steps` batches of n windows: stream j reads the recording from its own offset."""
    offsets = (np.arange(n) * 37) % len(windows)
    return [windows[(offsets + k) % len(windows)] for k in range(steps)]


def _ours(det: Detector, batches: list[np.ndarray]) -> None:
    state = det.initial_state(len(batches[0]))
    for windows in batches:
        _, state = det.step(windows, state)


def run(ctx: Context) -> Section:
    counts = [1, 10, 100] if ctx.quick else COUNTS
    windows = windows_of(ctx.recording)
    det = Detector(16000)
    try:
        silero: SileroBatch | None = SileroBatch()
    except ClassRecError:
        silero = None
    rates: dict[str, list[float]] = {"classrec": [], **({"silero-v6": []} if silero else {})}
    step_s: dict[str, list[float]] = {name: [] for name in rates}
    for n in counts:
        steps = 3 if ctx.quick else max(5, 3000 // n)
        batches = _batches(windows, n, steps)
        fns = {"classrec": lambda b=batches: _ours(det, b)}
        if silero:
            fns["silero-v6"] = lambda b=batches: silero.run(b)
        for name, fn in fns.items():
            t = min(timed(fn) for _ in range(1 if ctx.quick else 2))
            rates[name].append(n * steps / t)
            step_s[name].append(t / steps)
    rows = [
        [
            n,
            *(f"{rates[name][i]:,.0f}" for name in rates),
            *([f"{rates['classrec'][i] / rates['silero-v6'][i]:.1f}×"] if silero else []),
            f"{rates['classrec'][i] / 31.25:,.0f}",
        ]
        for i, n in enumerate(counts)
    ]
    header = [
        "streams N",
        *(f"{name} windows/s" for name in rates),
        *(["ClassRec faster"] if silero else []),
        "ClassRec real-time streams per core",
    ]
    slopes = {name: slope(counts, t) for name, t in step_s.items()}
    body = (
        "N independent streams advanced together, one window each per step, state batched "
        "(`Detector.step`; Silero: one ONNX call with batch N and state (2, N, 128)); one core. "
        "A real-time stream needs 31.25 windows/s. Cost per step against N: "
        + ", ".join(f"{n} k = {k:.2f}" for n, k in slopes.items())
        + " (time ∝ N^k; below 1 while per-call overhead dominates).\n\n"
        + table(header, rows)
    )
    path = figure(
        ctx.plot_path("many_streams.png"),
        lambda ax: _plot(ax, counts, rates),
        "Many streams in one process, one core",
    )
    return Section("Many streams in one process", body, [path], {"rates": rates, "slopes": slopes})


def _plot(ax, counts: list[int], rates: dict[str, list[float]]) -> None:
    for name, r in rates.items():
        ax.loglog(counts, r, "o-", label=name)
    ax.axhline(31.25, color="grey", linestyle=":", label="one real-time stream")
    ax.set_xlabel("streams stepped together (N)")
    ax.set_ylabel("windows per second")
    ax.legend()
