"""A picture of what the detector saw: waveform, speech probability, thresholds, speech regions.

Readable for a two-hour lecture: the waveform is kept as a min/max envelope per 32 ms window
while the file streams through (a few MB for hours), then reduced to about one column per pixel;
`start_s`/`end_s` zoom into a stretch. The two panels share one time axis (h:mm:ss).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from classrec.errors import ClassRecError  # noqa: E402
from classrec.features import SAMPLE_RATE  # noqa: E402
from classrec.outputs import atomic_path, check_writable  # noqa: E402
from classrec.pipeline import file_probabilities, shared_detector  # noqa: E402
from classrec.segments import Segment, VadOptions, speech_segments  # noqa: E402

COLUMNS = 3000
"""Most points drawn per curve: about one per pixel of a wide figure."""


def window_envelope(samples: np.ndarray, window: int) -> np.ndarray:
    """(n_windows, 2) min and max of each `window`-sample window (last one may be partial)."""
    n = -(-len(samples) // window)
    padded = np.zeros(n * window, dtype=np.float32)
    padded[: len(samples)] = samples
    frames = padded.reshape(n, window)
    return np.stack([frames.min(axis=1), frames.max(axis=1)], axis=1)


def reduce_columns(lo: np.ndarray, hi: np.ndarray, columns: int = COLUMNS):
    """Merge neighbouring points into at most `columns` (min of lows, max of highs), so a
    peak is never lost to decimation. Returns (group size, lows, highs)."""
    group = max(1, -(-len(lo) // columns))
    n = -(-len(lo) // group) * group
    lo = np.pad(lo, (0, n - len(lo)), mode="edge").reshape(-1, group).min(axis=1)
    hi = np.pad(hi, (0, n - len(hi)), mode="edge").reshape(-1, group).max(axis=1)
    return group, lo, hi


def _clock(seconds: float, _pos: object = None) -> str:
    s = int(round(seconds))
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def draw(
    envelope: np.ndarray,
    probs: np.ndarray,
    segments: list[Segment],
    thresholds: tuple[np.ndarray, np.ndarray],
    window_s: float,
    span: tuple[float, float],
    title: str,
) -> plt.Figure:
    """The figure for windows already cut to `span` (start, end in s); `thresholds` are the
    start and end thresholds of each window (they vary with threshold="auto")."""
    fig, (wave, prob) = plt.subplots(2, 1, figsize=(14, 5), sharex=True, height_ratios=[1, 1])
    group, lo, hi = reduce_columns(envelope[:, 0], envelope[:, 1])
    t = span[0] + np.arange(len(lo)) * group * window_s
    wave.fill_between(t, lo, hi, color="0.3", linewidth=0, step="post")
    wave.set_ylabel("waveform")
    group, plo, phi = reduce_columns(probs, probs)
    t = span[0] + np.arange(len(plo)) * group * window_s
    prob.fill_between(t, plo, phi, color="tab:blue", alpha=0.4, linewidth=0, step="post")
    prob.step(t, phi, where="post", color="tab:blue", linewidth=0.8, label="speech probability")
    for values, color, style, label in zip(
        thresholds, ("tab:red", "tab:orange"), ("-", "--"), ("threshold (on)", "off"), strict=True
    ):
        group, _, top = reduce_columns(values, values)
        t = span[0] + np.arange(len(top)) * group * window_s
        prob.step(t, top, where="post", color=color, linewidth=0.8, ls=style, label=label)
    prob.set_ylim(0, 1)
    prob.set_ylabel("probability")
    bars = [(s.start, s.duration) for s in segments if s.end > span[0] and s.start < span[1]]
    for ax in (wave, prob):
        full_height = ax.get_xaxis_transform()  # x in data, y from 0 to 1 of the axes
        ax.broken_barh(bars, (0, 1), transform=full_height, color="tab:green", alpha=0.2, lw=0)
    prob.plot([], [], color="tab:green", alpha=0.4, linewidth=6, label="speech")
    prob.legend(loc="upper right", fontsize="small", ncol=4)
    prob.set_xlim(*span)
    prob.xaxis.set_major_formatter(FuncFormatter(_clock))
    prob.set_xlabel("time (h:mm:ss)" if span[1] >= 3600 else "time (m:ss)")
    wave.set_title(title)
    fig.tight_layout()
    return fig


def plot_file(
    path: str | Path,
    output: str | Path,
    options: VadOptions = VadOptions(),  # noqa: B008 - frozen, so a shared default is safe
    sample_rate: int = SAMPLE_RATE,
    start_s: float = 0.0,
    end_s: float | None = None,
    on_block: Callable[[np.ndarray], None] | None = None,
    force: bool = False,
) -> list[Segment]:
    """Analyse `path` and save the plot of [start_s, end_s] (s) to `output` (.png, .svg, .pdf).
    Returns the speech segments of the whole file."""
    output = check_writable(output, force)
    det = shared_detector(sample_rate)
    envelopes = []

    def collect(block: np.ndarray) -> None:
        envelopes.append(window_envelope(block, det.window_size))
        if on_block is not None:
            on_block(block)

    probs, duration = file_probabilities(path, sample_rate, det, collect)
    window_s = det.window_size / sample_rate
    segments = speech_segments(probs, options, window_s, duration)
    end_s = duration if end_s is None else min(end_s, duration)
    if not 0.0 <= start_s < end_s:
        raise ClassRecError(f"--start/--end: need 0 <= start < end <= {duration:.1f} s")
    first, stop = int(start_s / window_s), int(np.ceil(end_s / window_s))
    on, off = (np.broadcast_to(x, probs.shape) for x in options.window_thresholds(probs))
    span = (first * window_s, end_s)
    fig = draw(
        np.concatenate(envelopes)[first:stop],
        probs[first:stop],
        segments,
        (on[first:stop], off[first:stop]),
        window_s,
        span,
        f"{Path(path).name}: {len(segments)} speech segments",
    )
    with atomic_path(output) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return segments
