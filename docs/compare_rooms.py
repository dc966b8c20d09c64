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

from classrec.labels import read_labels
from classrec.pipeline import file_probabilities
from classrec.scoring import window_mask
from classrec.segments import Segment, VadOptions, speech_segments
from classrec.web.presets import ROOMS

FRAME_S = 0.01  # label resolution: 10 ms


def frames(segments: list[Segment], duration_s: float) -> np.ndarray:
    """Segments as a 10 ms frame mask."""
    return window_mask(segments, round(duration_s / FRAME_S), FRAME_S)


def room_row(name: str, options: VadOptions, noise: list, meetings: list) -> str:
    noise_s = sum(d for _, d in noise)
    false_alarm = sum(
        seg.duration for p, d in noise for seg in speech_segments(p, options, duration_s=d)
    )
    tp = fp = fn = 0
    for p, d, ref in meetings:
        hyp = frames(speech_segments(p, options, duration_s=d), d)
        tp, fp, fn = tp + (hyp & ref).sum(), fp + (hyp & ~ref).sum(), fn + (~hyp & ref).sum()
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    per_hour = false_alarm / noise_s * 3600
    return (
        f"| {name} | {false_alarm:.1f} s ({per_hour:.0f} s/h) | {f1:.3f} | {precision:.3f} "
        f"| {recall:.3f} |"
    )


def main(data: Path) -> None:
    noise = [file_probabilities(p) for p in sorted((data / "noise").rglob("*.flac"))]
    ami = data / "meetings/ami"
    meetings = []
    for path in sorted(ami.glob("trn0*.flac")):
        p, d = file_probabilities(path)
        meetings.append((p, d, frames(read_labels(ami / "train.rttm", path.stem), d)))
    print(f"noise: {len(noise)} files, {sum(d for _, d in noise):.0f} s; meetings: "
          f"{len(meetings)} excerpts, {sum(d for _, d, _ in meetings):.0f} s")  # fmt: skip
    print("| Room | false alarm on noise | AMI frame F1 | precision | recall |")
    print("|---|---|---|---|---|")
    for name, options in ROOMS.items():
        print(room_row(name, options, noise, meetings))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
