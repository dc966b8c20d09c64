"""6. Cost growth: time against audio length (1 min … 2 h), one stream, one core."""

from __future__ import annotations

import numpy as np

from bench.common import Context, Section, figure, table, tiled_blocks, timed
from bench.contenders import OURS, ClassRec, silero_or_none
from classrec.lab.peers import available_peers

MINUTES = [1, 5, 10, 30, 60, 120]


def _seconds_for(name: str, det, audio: np.ndarray, seconds: float) -> float:
    """Detector time for `seconds` of audio fed in 60 s blocks (state carried for ClassRec)."""
    total = 0.0
    if name == OURS:
        state = det.detector.initial_state(1)
        for block in tiled_blocks(audio, seconds):
            total += timed(lambda b=block: det.detector.probabilities(b, state, sample_rate=16000))
    else:
        for block in tiled_blocks(audio, seconds):
            total += timed(lambda b=block: det.probabilities(b))
    return total


def slope(lengths: list[float], times: list[float]) -> float:
    """Exponent k of time ∝ length^k (least squares in log-log): 1.0 means linear."""
    return float(np.polyfit(np.log(lengths), np.log(times), 1)[0])


def run(ctx: Context) -> Section:
    minutes = [0.05, 0.1, 0.2] if ctx.quick else MINUTES
    dets = [ClassRec()]
    silero = silero_or_none(available_peers())
    if silero is not None:
        dets.append(silero)
    times = {
        d.name: [_seconds_for(d.name, d, ctx.recording, m * 60) for m in minutes] for d in dets
    }
    rows = [
        [
            f"{m:g}",
            *(f"{times[d.name][i]:.2f}" for d in dets),
            *([f"{times[silero.name][i] / times[OURS][i]:.1f}×"] if silero else []),
        ]
        for i, m in enumerate(minutes)
    ]
    header = ["minutes", *(f"{d.name} s" for d in dets), *(["ClassRec faster"] if silero else [])]
    slopes = {name: slope(minutes, t) for name, t in times.items()}
    per_s = {name: t[-1] / (minutes[-1] * 60) * 1e6 for name, t in times.items()}
    body = (
        "The recording tiled to each length and fed in 60 s blocks (as `classrec detect` decodes "
        "files), state carried; one core. Slope = k in time ∝ length^k (1.0 = linear): "
        + ", ".join(f"{n} k = {slopes[n]:.2f} ({per_s[n]:.0f} µs per audio second)" for n in slopes)
        + ".\n\n"
        + table(header, rows)
    )
    path = figure(
        ctx.plot_path("growth_length.png"),
        lambda ax: _plot(ax, minutes, times),
        "Cost against audio length (one stream, one core)",
    )
    return Section(
        "Cost growth with audio length", body, [path], {"slopes": slopes, "times": times}
    )


def _plot(ax, minutes: list[float], times: dict[str, list[float]]) -> None:
    for name, t in times.items():
        ax.loglog(minutes, t, "o-", label=name)
    ax.set_xlabel("audio length (minutes)")
    ax.set_ylabel("processing time (s)")
    ax.legend()
