"""Read people's speech labels: RTTM, Audacity labels, our JSON and CSV.

    .rttm   SPEAKER lines; a file may label several recordings (field 2, the recording's name
            without extension), and overlapping speakers count as one speech region
    .txt    Audacity labels: start, end, text, tab-separated (region labels; point labels and
            the spectral "\\" lines are skipped)
    .json   {"speech": [[start, end], ...]} (the corpus) or {"segments": [{"start", "end"}, ...]}
            (what `classrec detect` writes)
    .csv    a header with start and end columns (what `classrec detect --format csv` writes)

Times are seconds. Labels become the fraction of each 32 ms window inside a labelled region, as
the benchmark and the training recipe score them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from classrec.errors import ClassRecError
from classrec.features import WINDOW_SECONDS
from classrec.outputs import parse_segments
from classrec.segments import Segment

LABEL_FORMATS = {".rttm": "rttm", ".txt": "audacity", ".json": "json", ".csv": "csv"}


def read_labels(path: str | Path, recording: str | None = None) -> list[Segment]:
    """Speech regions (s, sorted, overlaps merged) of `recording` (a file name without
    extension; needed only when an RTTM file labels several recordings)."""
    path = Path(path)
    fmt = LABEL_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ClassRecError(
            f"{path}: unknown label format; use .rttm, .txt (Audacity), .json or .csv"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClassRecError(f"{path}: cannot read labels: {exc}") from None
    try:
        regions = _parse(text, fmt, recording)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ClassRecError(f"{path}: not valid {fmt} labels ({exc})") from None
    bad = [r for r in regions if not (0 <= r.start <= r.end)]
    if bad:
        raise ClassRecError(f"{path}: a region ends before it starts or starts below 0: {bad[0]}")
    return _merge(sorted(regions))


def _parse(text: str, fmt: str, recording: str | None) -> list[Segment]:
    if fmt == "rttm":
        return _rttm(text, recording)
    if fmt == "json":
        data = json.loads(text)
        if isinstance(data, dict) and "speech" in data:
            return [Segment(float(a), float(b)) for a, b in data["speech"]]
    if fmt == "audacity":
        rows = [line.split("\t") for line in text.splitlines() if line.strip()]
        regions = [Segment(float(r[0]), float(r[1])) for r in rows if not r[0].startswith("\\")]
        return [r for r in regions if r.end != r.start]  # point labels mark no speech
    return parse_segments(text, fmt)


def _rttm(text: str, recording: str | None) -> list[Segment]:
    rows = [line.split() for line in text.splitlines() if line.startswith("SPEAKER")]
    names = sorted({r[1] for r in rows})
    if recording is not None and len(names) > 1:
        rows = [r for r in rows if r[1] == recording]
        if not rows:
            raise ValueError(f"no lines for recording {recording!r}; it labels {', '.join(names)}")
    return [Segment(float(r[3]), float(r[3]) + float(r[4])) for r in rows]


def _merge(regions: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for r in regions:
        if out and r.start <= out[-1].end:
            out[-1] = Segment(out[-1].start, max(out[-1].end, r.end))
        else:
            out.append(r)
    return out


def window_labels(
    regions: list[Segment], n_windows: int, window_s: float = WINDOW_SECONDS
) -> np.ndarray:
    """Fraction of each window inside a region (0…1), for `n_windows` windows."""
    edges = np.arange(n_windows + 1) * window_s
    covered = np.zeros(n_windows)
    for r in regions:
        covered += np.clip(np.minimum(edges[1:], r.end) - np.maximum(edges[:-1], r.start), 0, None)
    return (covered / window_s).astype(np.float32)
