"""5. Memory: peak RSS of `classrec detect` on a 2-hour file, against Silero on the same file."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from bench.common import SAMPLE_RATE, Context, Section, table, tiled_blocks
from classrec.lab.peers import Silero

HOURS = 2.0


def write_flac(path: Path, audio: np.ndarray, seconds: float) -> Path:
    """`seconds` of `audio` (tiled) as a 16 kHz mono FLAC, written block by block."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=SAMPLE_RATE, layout="mono")
        for block in tiled_blocks(audio, seconds):
            pcm = np.clip(block * 32768.0, -32768, 32767).astype(np.int16)[None, :]
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


# Linux carries the parent's RSS high-water mark into a child's ru_maxrss across fork + exec, so
# the benchmark (which holds the recording) must not be the direct parent: a small shim process
# starts the command and reports the command's own peak.
SHIM = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(usage.ru_maxrss)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of a command, from the kernel's own accounting."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", SHIM, *cmd], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr[-500:]}")
    return int(done.stdout.split()[-1]) / 1024, time.perf_counter() - start


def silero_file(path: str) -> None:
    """The peer run measured: Silero v6 over the file decoded in the same bounded blocks."""
    from classrec.audio import iter_blocks

    peer = Silero()
    probs = [peer.probabilities(block) for block in iter_blocks(path, SAMPLE_RATE)]
    print(sum(len(p) for p in probs))


def run(ctx: Context) -> Section:
    seconds = 30.0 if ctx.quick else HOURS * 3600
    with tempfile.TemporaryDirectory() as tmp:
        path = write_flac(Path(tmp) / "long.flac", ctx.recording, seconds)
        ours = peak_rss([sys.executable, "-m", "classrec", "detect", str(path)])
        silero = peak_rss(
            [
                sys.executable,
                "-c",
                f"from bench.memory import silero_file; silero_file({str(path)!r})",
            ]
        )
    rows = [
        ["`classrec detect`", f"{ours[0]:.0f}", f"{ours[1]:.1f}"],
        ["Silero v6 (ONNX, same blocks)", f"{silero[0]:.0f}", f"{silero[1]:.1f}"],
    ]
    body = (
        f"Peak resident memory (kernel `ru_maxrss`) of a whole process on a {seconds / 3600:.2g} h "
        "16 kHz FLAC (the held-out recording tiled), including Python, numpy and the decoder; "
        "wall time includes start-up and decoding. Silero runs in a process that decodes the same "
        f"file in the same 30 s blocks. ClassRec uses {ours[0] / silero[0]:.2f}× Silero's peak "
        "memory.\n\n" + table(["process", "peak RSS MB", "wall s"], rows)
    )
    return Section(
        f"Memory: `classrec detect` on a {seconds / 3600:.2g} h file",
        body,
        [],
        {"ours_mb": ours[0], "silero_mb": silero[0]},
    )
