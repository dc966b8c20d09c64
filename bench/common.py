"""Shared pieces of the benchmarks: the audio, timing, tables and plots."""

from __future__ import annotations

import csv
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from classrec.audio import load_audio
from classrec.errors import ClassRecError

SAMPLE_RATE = 16000
WINDOW = 512
WINDOW_S = WINDOW / SAMPLE_RATE
FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "lecture.flac"
HELD_OUT = "speech/librispeech/test-other"


@dataclass
class Context:
    """What every benchmark section gets: sizes (full or smoke), the audio, where plots go."""

    data: Path
    plots: Path
    quick: bool = False
    minutes: float = 10.0

    @cached_property
    def recording(self) -> np.ndarray:
        """Real speech at 16 kHz: held-out LibriSpeech test-other utterances concatenated to
        `minutes` (full run), or the 10 s test fixture (smoke run or no corpus)."""
        if self.quick:
            return load_audio(FIXTURE, SAMPLE_RATE)
        return held_out_recording(self.data, self.minutes)

    @property
    def recording_s(self) -> float:
        return len(self.recording) / SAMPLE_RATE

    def plot_path(self, name: str) -> Path:
        self.plots.mkdir(parents=True, exist_ok=True)
        return self.plots / name


@dataclass
class Section:
    """One benchmark's results: a markdown body, plot files, and raw numbers (for tests)."""

    title: str
    body: str
    figures: list[Path] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)


def held_out_recording(data: Path, minutes: float) -> np.ndarray:
    """Concatenate held-out utterances (manifest order) until `minutes` of audio, in 16 kHz."""
    manifest = data / "manifest.csv"
    if not manifest.is_file():
        raise ClassRecError(f"no corpus at {data} (manifest.csv missing): pass --data DIR")
    with manifest.open(newline="") as fh:
        paths = [row["path"] for row in csv.DictReader(fh) if row["path"].startswith(HELD_OUT)]
    parts, total, need = [], 0, int(minutes * 60 * SAMPLE_RATE)
    for path in sorted(paths):
        parts.append(load_audio(data / path, SAMPLE_RATE))
        total += len(parts[-1])
        if total >= need:
            break
    if total < need:
        raise ClassRecError(f"only {total / SAMPLE_RATE:.0f} s of held-out speech under {data}")
    return np.concatenate(parts)[:need]


def tiled_blocks(source: np.ndarray, seconds: float, block_s: float = 60.0) -> Iterator[np.ndarray]:
    """`seconds` of audio as blocks of `block_s`, cycling through `source`: long inputs (2 h)
    without holding them in memory. Blocks are whole 32 ms windows."""
    total = int(seconds * SAMPLE_RATE) // WINDOW * WINDOW
    block = int(block_s * SAMPLE_RATE) // WINDOW * WINDOW
    pos = 0
    while total > 0:
        n = min(block, total)
        idx = (pos + np.arange(n)) % len(source)
        yield source[idx]
        pos, total = (pos + n) % len(source), total - n


def windows_of(samples: np.ndarray) -> np.ndarray:
    """Whole 512-sample windows of a signal, (n, 512) float32."""
    n = len(samples) // WINDOW
    return np.ascontiguousarray(samples[: n * WINDOW].reshape(n, WINDOW), dtype=np.float32)


def timed(fn: Callable[[], Any]) -> float:
    """CPU time of this process for one call, seconds (garbage collector off so it is charged to
    no one). CPU time, not wall time: every contender computes on one thread, so its CPU time is
    its cost, while wall time on a shared machine also counts whatever other processes ran on the
    core meanwhile (with a training at nice -10 that was most of it)."""
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        fn()
        return time.process_time() - start
    finally:
        gc.enable()


def best_of(contenders: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Fastest of `repeats` timings per contender, interleaved round-robin so that other load on
    the machine hits every contender alike. Seconds."""
    best = {name: float("inf") for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            best[name] = min(best[name], timed(fn))
    return best


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def ratio(ours: float, theirs: float) -> str:
    """'12.3×' — how many times `ours` beats `theirs` (both 'higher is better' quantities)."""
    return f"{ours / theirs:.1f}×" if theirs > 0 else "n/a"


def figure(path: Path, draw: Callable[[Any], None], title: str) -> Path:
    """Draw one matplotlib figure (Agg, no display) and save it as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    draw(ax)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
