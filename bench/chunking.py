"""`python -m bench.chunking`: would cutting a file into chunks, run as one batch, speed up the
whole-file path, and at what cost in accuracy? (A lever measured and not taken: see the output.)

The recurrence over one file is sequential (a matrix-vector product per window). Cutting the file
into B chunks and stepping them together turns it into a matrix-matrix product per step; each
chunk but the first starts W windows early from a zero state and drops those warm-up outputs.
This script times that batched recurrence in numpy against onnxruntime's sequential one (both
including the LSTM's input term), and compares its probabilities with the exact sequential
ones on real recordings (the dev set and held-out speech, concatenated): max and p99 |Δp| and
the share of windows whose decision at 0.5 changes.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bench.common import table
from classrec import Detector, kernels
from classrec.audio import load_audio
from classrec.checkpoint import Folded
from classrec.model import CHUNK_WINDOWS

SETTINGS = [(16, 31), (16, 63), (32, 63), (32, 125), (8, 250), (8, 500)]
"""(chunks B, warm-up windows W) tried."""


def recordings(data: Path, held_out: int) -> np.ndarray:
    """The dev recordings and the first `held_out` held-out ones, concatenated, whole windows."""
    with (data / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    paths = [r["path"] for r in rows if r["split"] == "dev"]
    paths += [r["path"] for r in rows if r["split"] == "heldout"][:held_out]
    x = np.concatenate([load_audio(data / p, 16000) for p in paths])
    return x[: len(x) // 512 * 512]


def chunked(w: Folded, x: np.ndarray, chunks: int, warmup: int) -> np.ndarray:
    """Hidden states (T, H) of MLP outputs `x` (T, H), recurrence batched over `chunks` chunks,
    each after the first warmed up over the `warmup` windows before it from a zero state."""
    hidden = w.hidden
    length = -(-(len(x) - warmup) // chunks)
    steps = length + warmup
    padded = np.zeros((chunks * length + warmup, hidden), np.float32)
    padded[: len(x)] = x
    row = padded.strides[0]
    inputs = np.lib.stride_tricks.as_strided(
        padded, shape=(steps, chunks, hidden), strides=(row, length * row, padded.strides[1])
    )
    cell = kernels.Cell(chunks, hidden)
    hs = np.zeros((steps + 1, chunks, hidden), np.float32)
    c = np.zeros((chunks, hidden), np.float32)
    for start in range(0, steps, 64):  # the input term 64 steps at a time: bounded memory
        block = np.ascontiguousarray(inputs[start : start + 64]).reshape(-1, hidden)
        gates_in = kernels.project(w, block).reshape(-1, chunks, 4 * hidden)
        for k, g in enumerate(gates_in):
            np.dot(hs[start + k], w.w_hh, out=cell.gates)
            cell.gates += g
            cell.advance(c, hs[start + k + 1])
    parts = [hs[1:, 0]] + [hs[1 + warmup :, b] for b in range(1, chunks)]
    return np.concatenate(parts)[: len(x)]


def cpu_seconds(fn: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chunking", description=__doc__)
    parser.add_argument("--data", default="../shared/data", help="corpus folder (manifest.csv)")
    parser.add_argument("--held-out", type=int, default=150, help="held-out recordings added")
    args = parser.parse_args(argv)
    threadpool_limits(1)
    det = Detector(16000, backend="onnxruntime")
    w = det._weights
    windows = recordings(Path(args.data), args.held_out).reshape(-1, 512)
    n = len(windows)
    blocks = range(0, n, CHUNK_WINDOWS)
    x = np.concatenate([kernels.mlp(w, windows[i : i + CHUNK_WINDOWS]) for i in blocks])

    def sequential() -> np.ndarray:
        state = det.initial_state(1)
        parts = [kernels.run_onnx(det._session, x[i : i + CHUNK_WINDOWS], state) for i in blocks]
        return np.concatenate(parts)

    exact = kernels.head(w, sequential())
    rows = [
        [
            "sequential, onnxruntime (exact: the reference)",
            f"{cpu_seconds(sequential) / n * 1e6:.2f}",
        ]
    ]
    rows[0] += ["0", "0", "0"]
    for chunks, warmup in SETTINGS:
        seconds = cpu_seconds(lambda c=chunks, m=warmup: chunked(w, x, c, m))
        p = kernels.head(w, chunked(w, x, chunks, warmup))
        dp = np.abs(p - exact)
        changed = np.mean((p >= 0.5) != (exact >= 0.5))
        rows.append(
            [
                f"{chunks} chunks, {warmup * 0.032:.0f} s warm-up, numpy",
                f"{seconds / n * 1e6:.2f}",
                f"{dp.max():.3f}",
                f"{np.percentile(dp, 99):.4f}",
                f"{100 * changed:.3f}%",
            ]
        )
    print(f"{n * 0.032 / 60:.1f} min of real recordings (dev set + held-out speech), one core\n")
    header = ["recurrence", "µs per window", "max abs Δp", "p99 abs Δp", "decisions changed"]
    print(table(header, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
