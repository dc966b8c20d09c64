"""Compare `classrec speech-only` with ffmpeg's `silenceremove` on labelled real recordings.

    python3 docs/compare_silenceremove.py ../shared/data /tmp/compare tests/fixtures

Builds one recording (the lecture fixture, then the nine AMI meeting excerpts), runs both tools,
and prints a Markdown table: output length, labelled speech cut, non-speech kept, wall time.
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from classrec.audio import load_audio

RATE = 100  # label resolution: 10 ms
FFMPEG_SETTINGS = [("-35dB", 0.3), ("-50dB", 0.5)]  # (threshold, shortest silence removed, s)


def labelled_parts(data: Path, fixtures: Path) -> list[tuple[Path, list[tuple[float, float]]]]:
    lecture = json.loads((fixtures / "lecture.json").read_text())["speech"]
    parts = [(fixtures / "lecture.flac", lecture)]
    turns: dict[str, list] = {}
    for line in (data / "meetings/ami/train.rttm").read_text().splitlines():
        f = line.split()
        turns.setdefault(f[1], []).append((float(f[3]), float(f[3]) + float(f[4])))
    ami = [(data / f"meetings/ami/trn0{i}.flac", turns.get(f"trn0{i}", [])) for i in range(1, 10)]
    return parts + ami


def build(parts, out: Path) -> np.ndarray:
    """Write the recording to `out`; return the speech label per 10 ms."""
    audio = [load_audio(path, 16000) for path, _ in parts]
    pcm = np.concatenate(audio).tobytes()
    raw = ["-f", "f32le", "-ar", "16000", "-ac", "1"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", *raw, "-i", "-", out], input=pcm, check=True)
    labels = []
    for (_, regions), x in zip(parts, audio, strict=True):
        mask = np.zeros(round(len(x) / 16000 * RATE), bool)
        for a, b in regions:
            mask[round(a * RATE) : round(b * RATE)] = True
        labels.append(mask)
    return np.concatenate(labels)


def duration(path: Path) -> float:
    probe = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path]
    return float(subprocess.run(probe, capture_output=True, text=True, check=True).stdout)


def row(name: str, speech: np.ndarray, kept_ranges, seconds: float, out_s: float) -> str:
    kept = np.zeros(len(speech), bool)
    for a, b in kept_ranges:
        kept[round(a * RATE) : round(b * RATE)] = True
    cut = (speech & ~kept).sum() / RATE
    noise = (~speech & kept).sum() / RATE
    pct = 100 * cut / (speech.sum() / RATE)
    return f"| {name} | {out_s:.1f} | {cut:.1f} ({pct:.1f}%) | {noise:.1f} | {seconds:.1f} |"


def ffmpeg_rows(rec: Path, out: Path, speech: np.ndarray, total: float) -> list[str]:
    rows = []
    for threshold, shortest in FFMPEG_SETTINGS:
        dest = out / f"silenceremove{threshold}.flac"
        flt = f"silenceremove=stop_periods=-1:stop_duration={shortest}:stop_threshold={threshold}"
        t = time.time()
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", rec, "-af", flt, dest], check=True)
        took = time.time() - t
        detect = f"silencedetect=noise={threshold}:d={shortest}"
        log = subprocess.run(["ffmpeg", "-i", rec, "-af", detect, "-f", "null", "-"],
                             capture_output=True, text=True).stderr  # fmt: skip
        starts = [float(x) for x in re.findall(r"silence_start: ([\d.]+)", log)]
        ends = [float(x) for x in re.findall(r"silence_end: ([\d.]+)", log)] + [total]
        edges = [0.0, *[v for s, e in zip(starts, ends, strict=False) for v in (s, e)], total]
        kept = list(zip(edges[::2], edges[1::2], strict=True))
        name = f"`silenceremove` {threshold}, silences > {shortest} s"
        rows.append(row(name, speech, kept, took, duration(dest)))
    return rows


CLASSREC_SETTINGS = [[], ["--keep-pause-ms", "0", "--pause-ms", "0", "--pad-ms", "30"]]


def classrec_rows(rec: Path, out: Path, speech: np.ndarray) -> list[str]:
    rows = []
    for i, options in enumerate(CLASSREC_SETTINGS):
        dest = out / f"classrec{i}.flac"
        t = time.time()
        command = ["classrec", "speech-only", rec, dest, "--force", *options]
        subprocess.run(command, check=True, capture_output=True)
        took = time.time() - t
        cuts = json.loads(dest.with_suffix(".cuts.json").read_text())
        kept = [(r["start"], r["end"]) for r in cuts["ranges"]]
        name = f"`classrec speech-only {' '.join(options) or '(defaults)'}`"
        rows.append(row(name, speech, kept, took, cuts["kept_s"]))
    return rows


def main() -> None:
    data, out, fixtures = (Path(a) for a in sys.argv[1:4])
    out.mkdir(parents=True, exist_ok=True)
    rec = out / "recording.flac"
    speech = build(labelled_parts(data, fixtures), rec)
    total = len(speech) / RATE
    print(f"recording {total:.1f} s: labelled speech {speech.sum() / RATE:.1f} s, "
          f"non-speech {(~speech).sum() / RATE:.1f} s\n")  # fmt: skip
    print("| method | output, s | labelled speech cut, s (%) | non-speech kept, s | wall, s |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join([*ffmpeg_rows(rec, out, speech, total), *classrec_rows(rec, out, speech)]))


if __name__ == "__main__":
    main()
