"""Files end to end: `classrec detect` on a 1-hour file against ffmpeg's decode of the same file.

Both are separate processes run on the same file; each one's cost is its CPU time (user + sys,
from wait4), best of a few runs interleaved, so load from elsewhere hits both alike. ffmpeg does
the least any tool must do with the file (`ffmpeg -i F -f f32le -ac 1 -ar 16000 -`: decode, mix
to mono, resample to 16 kHz); `classrec detect F -o out.json` does that and the model, the
segmentation and the JSON, including Python's start. Issue 15's target: at most 2× ffmpeg.

The test files are made here from held-out speech (LibriSpeech test-other, 10 min tiled to an
hour; the 10 s test fixture tiled to a minute for smoke runs) in a temporary folder, and removed
when the process ends: nothing is committed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import SAMPLE_RATE, Context, Section, table

TARGET = 2.0
"""Most CPU `classrec detect` may take, in multiples of ffmpeg's decode of the same file."""
HOUR_S = 3600.0
QUICK_S = 60.0
TO_16K_MONO = ("-f", "f32le", "-ac", "1", "-ar", "16000", "-")
"""ffmpeg output options of the reference decode: 16 kHz mono float to stdout."""


@dataclass(frozen=True)
class Format:
    """A test file's encoding: its name in the tables, suffix and ffmpeg output options."""

    name: str
    suffix: str
    options: tuple[str, ...]
    video: bool = False


FLAC = Format("FLAC, 16 kHz mono", ".flac", ("-c:a", "flac"))
MP3 = Format("MP3, 16 kHz mono, 64 kb/s", ".mp3", ("-c:a", "libmp3lame", "-b:a", "64k"))
MP3_44K = Format(
    "MP3, 44.1 kHz stereo, 128 kb/s",
    ".mp3",
    ("-ar", "44100", "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k"),
)
OPUS = Format("Opus, 48 kHz mono, 32 kb/s", ".opus", ("-c:a", "libopus", "-b:a", "32k"))
M4A = Format(
    "M4A (AAC), 44.1 kHz stereo, 96 kb/s",
    ".m4a",
    ("-ar", "44100", "-ac", "2", "-c:a", "aac", "-b:a", "96k"),
)
MP4 = Format(
    "MP4: H.264 320×240 5 fps + AAC 48 kHz",
    ".mp4",
    (
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "stillimage",
        "-c:a",
        "aac",
        "-ar",
        "48000",
    ),
    video=True,
)
FORMATS = [FLAC, MP3, MP3_44K, OPUS, M4A, MP4]
QUICK_FORMATS = [FLAC, MP3]


# -- test files ----------------------------------------------------------------------------------
_folder: Path | None = None
_made: dict[tuple[Format, float], Path] = {}


def scratch_folder() -> Path:
    """This process's folder for test files, removed at exit (an hour of FLAC is 60 MB)."""
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="classrec-bench-"))
        atexit.register(shutil.rmtree, _folder, True)
    return _folder


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    """16 kHz mono PCM16 WAV of float samples in [-1, 1]."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return path


def media_file(ctx: Context, fmt: Format) -> Path:
    """`fmt`'s test file: the context's recording tiled to an hour (a minute for smoke runs),
    encoded by ffmpeg. Made once per process, shared by the sections that need it."""
    seconds = QUICK_S if ctx.quick else HOUR_S
    if (fmt, seconds) in _made:
        return _made[fmt, seconds]
    source = scratch_folder() / "recording.wav"
    if not source.exists():
        _write_wav(source, ctx.recording)
    path = scratch_folder() / f"{len(_made)}-{seconds:.0f}s{fmt.suffix}"
    video = ["-f", "lavfi", "-i", "color=c=gray:s=320x240:r=5"] if fmt.video else []
    command = ["ffmpeg", "-v", "error", "-y", *video, "-stream_loop", "-1", "-i", str(source)]
    command += ["-t", f"{seconds}", *fmt.options, str(path)]
    subprocess.run(command, check=True)
    _made[fmt, seconds] = path
    return path


# -- measuring -----------------------------------------------------------------------------------
def cpu_s(command: list[str]) -> float:
    """User + system CPU seconds of one run of `command` (stdout discarded); raises with the
    command's last words if it fails."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            tail = err.read()[-500:].decode(errors="replace")
            raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}): {tail}")
    return usage.ru_utime + usage.ru_stime


def ffmpeg_decode(path: Path) -> list[str]:
    """The reference: decode, mix to mono and resample to 16 kHz float, written to stdout."""
    return [
        "ffmpeg",
        "-v",
        "error",
        "-i",
        str(path),
        "-f",
        "f32le",
        "-ac",
        "1",
        "-ar",
        "16000",
        "-",
    ]


def classrec_detect(path: Path, output: Path) -> list[str]:
    return [sys.executable, "-m", "classrec", "detect", str(path), "-o", str(output), "--force"]


def best_cpu(commands: dict[str, list[str]], repeats: int) -> dict[str, float]:
    """Least CPU seconds of `repeats` runs per command, interleaved round-robin."""
    best = {name: float("inf") for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            best[name] = min(best[name], cpu_s(command))
    return best


def compare(ctx: Context, fmt: Format, repeats: int) -> dict[str, float]:
    """{"ffmpeg": s, "classrec": s} of CPU for one format's test file."""
    path = media_file(ctx, fmt)
    commands = {
        "ffmpeg": ffmpeg_decode(path),
        "classrec": classrec_detect(path, scratch_folder() / "detect.json"),
    }
    return best_cpu(commands, repeats)


def run(ctx: Context) -> Section:
    formats, repeats = (QUICK_FORMATS, 1) if ctx.quick else (FORMATS, 3)
    seconds = QUICK_S if ctx.quick else HOUR_S
    results = {fmt.name: compare(ctx, fmt, repeats) for fmt in formats}
    rows = [
        [
            name,
            f"{cpu['ffmpeg']:.2f}",
            f"{cpu['classrec']:.2f}",
            f"{cpu['classrec'] / cpu['ffmpeg']:.2f}×",
            "yes" if cpu["classrec"] <= TARGET * cpu["ffmpeg"] else "**no**",
        ]
        for name, cpu in results.items()
    ]
    body = (
        f"One {seconds / 60:.0f}-minute file per format "
        f"({'the test fixture' if ctx.quick else 'held-out LibriSpeech test-other, 10 min'} "
        "tiled). CPU time (user + sys) of each process, best of "
        f"{repeats} interleaved runs. ffmpeg: `ffmpeg -i F -f f32le -ac 1 -ar 16000 -` (decode, "
        "mono, 16 kHz); ClassRec: `classrec detect F -o out.json`, start to finish (Python's "
        f"start, decoding, model, segments, JSON). Target: ClassRec ≤ {TARGET:.0f}× ffmpeg.\n\n"
        + table(["file", "ffmpeg CPU s", "classrec detect CPU s", "ratio", "≤ 2×"], rows)
    )
    ratios = {name: cpu["classrec"] / cpu["ffmpeg"] for name, cpu in results.items()}
    return Section(
        "Files end to end: classrec detect against ffmpeg's decode",
        body,
        results={"cpu_s": results, "ratio": ratios, "seconds": seconds},
    )
