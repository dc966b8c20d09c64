"""The web app's rooms (classrec.web.presets.ROOMS) on the shipped model: what each costs on noise
and keeps of meeting speech (the table in docs/web.md).

    python3 docs/compare_rooms.py ../shared/data

False alarm: seconds of segments found in the corpus's noise files (every file under `noise/`, no
speech). Meetings: frame F1, precision and recall over the nine AMI excerpts against the union of
their RTTM speaker turns, in 10 ms frames, pooled.
"""

import sys
from pathlib import Path

import numpy as np

from classrec.audio import load_audio
from classrec.features import SAMPLE_RATE
from classrec.labels import read_labels
from classrec.model import Detector
from classrec.segments import VadOptions, speech_segments
from classrec.web.presets import ROOMS

FRAMES_PER_S = 100  # label resolution: 10 ms


def probabilities(det: Detector, path: Path) -> tuple[np.ndarray, float]:
    """The model's probabilities for one file and its duration (s)."""
    samples = load_audio(path, SAMPLE_RATE)
    return det.probabilities(samples, sample_rate=SAMPLE_RATE), len(samples) / SAMPLE_RATE


def frames(regions, duration_s: float) -> np.ndarray:
    """Regions (start, end in s) as a 10 ms frame mask."""
    mask = np.zeros(round(duration_s * FRAMES_PER_S), bool)
    for start, end in regions:
        mask[round(start * FRAMES_PER_S) : round(end * FRAMES_PER_S)] = True
    return mask


def room_row(name: str, options: VadOptions, noise: list, meetings: list) -> str:
    noise_s = sum(d for _, d in noise)
    false_alarm = sum(
        seg.duration for p, d in noise for seg in speech_segments(p, options, duration_s=d)
    )
    tp = fp = fn = 0
    for p, d, ref in meetings:
        hyp = frames([(s.start, s.end) for s in speech_segments(p, options, duration_s=d)], d)
        tp, fp, fn = tp + (hyp & ref).sum(), fp + (hyp & ~ref).sum(), fn + (~hyp & ref).sum()
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    per_hour = false_alarm / noise_s * 3600
    return (
        f"| {name} | {false_alarm:.1f} s ({per_hour:.0f} s/h) | {f1:.3f} | {precision:.3f} "
        f"| {recall:.3f} |"
    )


def main(data: Path) -> None:
    det = Detector(SAMPLE_RATE)
    noise = [probabilities(det, p) for p in sorted((data / "noise").rglob("*.flac"))]
    ami = data / "meetings/ami"
    meetings = []
    for path in sorted(ami.glob("trn0*.flac")):
        p, d = probabilities(det, path)
        regions = [(r.start, r.end) for r in read_labels(ami / "train.rttm", path.stem)]
        meetings.append((p, d, frames(regions, d)))
    print(f"noise: {len(noise)} files, {sum(d for _, d in noise):.0f} s; meetings: "
          f"{len(meetings)} excerpts, {sum(d for _, d, _ in meetings):.0f} s")  # fmt: skip
    print("| Room | false alarm on noise | AMI frame F1 | precision | recall |")
    print("|---|---|---|---|---|")
    for name, options in ROOMS.items():
        print(room_row(name, options, noise, meetings))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
