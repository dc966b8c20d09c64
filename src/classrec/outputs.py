"""Segments → text in the formats other tools read, and safe writing of any output file.

One small interface, as in whisper's `utils.py`: `format_segments(segments, fmt, name)` gives the
text, `parse_segments(text, fmt)` reads it back (for tests and for comparing with references),
and `write_atomic` writes through a temporary file in the same folder, so an interrupted run
never leaves a half-written output. Times are seconds rounded to the millisecond.

    json      {"file": name, "segments": [{"start": s, "end": s}, ...]}
    csv       start,end,duration (spreadsheets)
    tsv       start, end in integer milliseconds, text (as whisper writes it)
    rttm      SPEAKER lines (pyannote, dscore, NIST md-eval)
    audacity  start, end, label tab-separated (Audacity: File → Import → Labels)
    srt       numbered cues (video players, subtitle editors)
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from classrec.errors import ClassRecError
from classrec.segments import Segment

LABEL = "speech"


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _json(segments: list[Segment], name: str) -> str:
    return json.dumps({"file": name, "segments": [s.as_dict() for s in segments]}, indent=1) + "\n"


def _csv(segments: list[Segment], name: str) -> str:
    rows = [f"{s.start:.3f},{s.end:.3f},{s.duration:.3f}" for s in segments]
    return "\n".join(["start,end,duration", *rows]) + "\n"


def _tsv(segments: list[Segment], name: str) -> str:
    rows = [f"{_ms(s.start)}\t{_ms(s.end)}\t{LABEL}" for s in segments]
    return "\n".join(["start\tend\ttext", *rows]) + "\n"


def _rttm(segments: list[Segment], name: str) -> str:
    uri = re.sub(r"\s+", "_", Path(name).stem) or "audio"
    rows = [
        f"SPEAKER {uri} 1 {s.start:.3f} {s.duration:.3f} <NA> <NA> {LABEL} <NA> <NA>"
        for s in segments
    ]
    return "".join(row + "\n" for row in rows)


def _audacity(segments: list[Segment], name: str) -> str:
    return "".join(f"{s.start:.6f}\t{s.end:.6f}\t{LABEL}\n" for s in segments)


def _srt_time(seconds: float) -> str:
    ms = _ms(seconds)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def _srt(segments: list[Segment], name: str) -> str:
    return "".join(
        f"{i}\n{_srt_time(s.start)} --> {_srt_time(s.end)}\n{LABEL}\n\n"
        for i, s in enumerate(segments, 1)
    )


WRITERS: dict[str, Callable[[list[Segment], str], str]] = {
    "json": _json,
    "csv": _csv,
    "tsv": _tsv,
    "rttm": _rttm,
    "audacity": _audacity,
    "srt": _srt,
}
FORMATS = tuple(WRITERS)
EXTENSIONS = {"json": ".json", "csv": ".csv", "tsv": ".tsv", "rttm": ".rttm", "audacity": ".txt"}
"""File ending for each format (srt is `.srt`)."""


def extension(fmt: str) -> str:
    return EXTENSIONS.get(fmt, f".{fmt}")


def format_segments(segments: list[Segment], fmt: str, name: str = "audio") -> str:
    """Segments as text in format `fmt` (one of FORMATS); `name` is the source file's name."""
    try:
        writer = WRITERS[fmt]
    except KeyError:
        raise ClassRecError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}") from None
    return writer(segments, name)


def _parse_srt_time(text: str) -> float:
    h, m, rest = text.strip().split(":")
    s, ms = rest.split(",")
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_segments(text: str, fmt: str) -> list[Segment]:
    """Read segments back from text written in `fmt` (RTTM from other tools works too)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if fmt == "json":
        return [Segment(d["start"], d["end"]) for d in json.loads(text)["segments"]]
    if fmt == "csv":
        return [Segment(float(r["start"]), float(r["end"])) for r in csv.DictReader(lines)]
    if fmt == "tsv":
        return [Segment(int(a) / 1000, int(b) / 1000) for a, b, *_ in _split(lines[1:], "\t")]
    if fmt == "rttm":
        fields = [line.split() for line in lines if line.startswith("SPEAKER")]
        return sorted(Segment(float(f[3]), float(f[3]) + float(f[4])) for f in fields)
    if fmt == "audacity":
        return [Segment(float(a), float(b)) for a, b, *_ in _split(lines, "\t")]
    if fmt == "srt":
        times = [line.split("-->") for line in lines if "-->" in line]
        return [Segment(_parse_srt_time(a), _parse_srt_time(b)) for a, b in times]
    raise ClassRecError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")


def _split(lines: list[str], sep: str) -> list[list[str]]:
    return [line.split(sep) for line in lines]


def format_probabilities(probs: np.ndarray, window_s: float) -> str:
    """One row per window: start time (s), end time (s), speech probability; or, for an
    (n, 3) array from `Detector.classes`, the speech, music and noise probabilities."""
    out = io.StringIO()
    probs = np.asarray(probs)
    out.write("start,end,speech,music,noise\n" if probs.ndim == 2 else "start,end,probability\n")
    starts = np.arange(len(probs)) * window_s
    for t, p in zip(starts.tolist(), probs.tolist(), strict=True):
        values = ",".join(f"{v:.5f}" for v in p) if probs.ndim == 2 else f"{p:.5f}"
        out.write(f"{t:.3f},{t + window_s:.3f},{values}\n")
    return out.getvalue()


def check_writable(path: str | Path, force: bool = False) -> Path:
    """Refuse early (before hours of work) an output that exists without `force`, or whose
    folder is missing or read-only."""
    path = Path(path)
    if path.is_dir():
        raise ClassRecError(f"{path}: is a folder; give a file name")
    if path.exists() and not force:
        raise ClassRecError(f"{path}: already exists; use --force to overwrite")
    folder = path.parent
    if not folder.is_dir():
        raise ClassRecError(f"{path}: folder {folder} does not exist")
    with atomic_path(path, keep=False):  # really create a file there: /proc or a read-only
        pass  # disk pass os.access for root, and would fail only after the work
    return path


def write_atomic(path: str | Path, data: str | bytes, force: bool = False) -> None:
    """Write `data` to `path` all or nothing: a temporary file in the same folder is renamed
    over `path` only once complete, so Ctrl-C or a full disk leaves no partial file."""
    path = check_writable(path, force)
    with atomic_path(path) as tmp:
        mode = "w" if isinstance(data, str) else "wb"
        with open(tmp, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            f.write(data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path, keep: bool = True) -> Iterator[Path]:
    """A temporary path beside `path` (same suffix, so tools pick the right format) that is
    renamed to `path` when the block succeeds (`keep`) and deleted when it fails or is
    interrupted. A file system that refuses the file gives one ClassRecError line."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise ClassRecError(f"{path}: cannot write there ({exc.strerror})") from None
    renamed = False
    try:
        yield Path(tmp)
        if keep:
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; outputs are ordinary
            os.replace(tmp, path)
            renamed = True
    except OSError as exc:
        raise ClassRecError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if not renamed:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
