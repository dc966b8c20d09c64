"""`classrec tune LABELS AUDIO…`: the segmentation options that fit labelled audio best.

The model runs once per file; then every combination of threshold (fixed ones and "auto"),
neg-threshold, minimum speech and minimum silence is scored with the default padding, and the
paddings are searched for the best of those. Scores are those of `classrec.scoring` (frame F1,
segment F1, false alarms per hour). With `--max-false-alarms N` only options with at most N false
alarms per hour of the tuning audio count. With `--holdout-from S`, audio after S seconds (of the
files one after another) is not searched, only scored: it shows whether the options carry over.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classrec.auto_threshold import AUTO
from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE, WINDOW_SECONDS
from classrec.labels import read_labels, window_labels
from classrec.pipeline import file_probabilities, shared_detector
from classrec.presets import save_preset
from classrec.scoring import Counts, count
from classrec.segments import VadOptions, speech_segments

THRESHOLDS = (*(round(0.2 + 0.05 * i, 2) for i in range(15)), AUTO)  # 0.2 … 0.9, auto
HYSTERESIS = (0.05, 0.15, 0.3)
"""threshold − neg_threshold tried with each fixed threshold ("auto" keeps its own)."""
MIN_SPEECH_MS = (0, 100, 250, 500)
MIN_SILENCE_MS = (50, 100, 200, 400, 800)
PADS_MS = (0, 30, 100, 200)
OBJECTIVES = ("frame_f1", "segment_f1")
LABEL_PAST_END_S = 1.0
"""Labels may run this far past the end of the audio (rounding); further means a wrong file."""


@dataclass
class Sample:
    """A stretch of labelled audio: one probability and one label per 32 ms window."""

    name: str
    probs: np.ndarray
    labels: np.ndarray
    duration_s: float

    def split(self, at_s: float) -> tuple[Sample, Sample]:
        """(before `at_s`, from `at_s` on), cut at a window boundary."""
        k = min(max(round(at_s / WINDOW_SECONDS), 0), len(self.probs))
        cut_s = min(k * WINDOW_SECONDS, self.duration_s)
        head = Sample(self.name, self.probs[:k], self.labels[:k], cut_s)
        tail = Sample(self.name, self.probs[k:], self.labels[k:], self.duration_s - cut_s)
        return head, tail


def load_sample(
    labels: Path,
    audio: Path,
    detector=None,
    name: str | None = None,
    on_block: Callable[[np.ndarray], None] | None = None,
) -> Sample:
    """The detector's probabilities for `audio` beside its labels from `labels`. `name` is the
    recording's file name when `audio` is stored under another (the web app's uploads): an RTTM
    file's lines are picked by it. `on_block` sees the decoded 16 kHz blocks (progress)."""
    name = name or audio.name
    regions = read_labels(labels, Path(name).stem)
    probs, duration = file_probabilities(audio, SAMPLE_RATE, detector, on_block)
    if regions and regions[-1].end > duration + LABEL_PAST_END_S:
        raise ClassRecError(
            f"{labels}: labels run to {regions[-1].end:.1f} s but {name} lasts {duration:.1f} s;"
            " are they for this recording?"
        )
    return Sample(name, probs, window_labels(regions, len(probs)), duration)


def split_samples(samples: list[Sample], holdout_from_s: float) -> tuple[list, list]:
    """(tuning part, held-out part): the audio before and after `holdout_from_s` seconds of the
    samples played one after another."""
    tune, held, start = [], [], 0.0
    for s in samples:
        head, tail = s.split(holdout_from_s - start)
        start += s.duration_s
        tune += [head] if head.duration_s > 0 else []
        held += [tail] if tail.duration_s > 0 else []
    return tune, held


def score(samples: list[Sample], options: VadOptions) -> Counts:
    """Counts of `options` over all samples."""
    total = Counts()
    for s in samples:
        found = speech_segments(s.probs, options, duration_s=s.duration_s)
        total += count(found, s.labels, s.duration_s)
    return total


def threshold_grid() -> list[VadOptions]:
    """Stage 1: thresholds × hysteresis × minimum speech × minimum silence, default pads."""
    grid = []
    for thr, gap, speech, silence in itertools.product(
        THRESHOLDS, HYSTERESIS, MIN_SPEECH_MS, MIN_SILENCE_MS
    ):
        if thr == AUTO and gap != HYSTERESIS[1]:
            continue  # "auto" keeps its own end threshold: once per pair
        neg = None if thr == AUTO else round(max(thr - gap, 0.01), 2)
        grid.append(VadOptions(thr, neg, speech, silence))
    return grid


def pad_grid(best: VadOptions) -> list[VadOptions]:
    """Stage 2: every pair of paddings around the best options of stage 1."""
    return [
        dataclasses.replace(best, pad_before_ms=a, pad_after_ms=b)
        for a, b in itertools.product(PADS_MS, PADS_MS)
    ]


def search_size() -> int:
    """How many options `search` scores."""
    return len(threshold_grid()) + len(PADS_MS) ** 2 - 1


def search(
    samples: list[Sample],
    objective: str = "frame_f1",
    max_false_alarms: float = math.inf,
    on_option: Callable[[], None] | None = None,
) -> list[tuple[VadOptions, Counts]]:
    """Every option tried with its counts, best first: highest `objective` among those within
    the false-alarm budget (per hour), then the others by fewest false alarms. `on_option` is
    called after each option is scored (progress: `search_size()` calls in all)."""

    def rank(item: tuple[VadOptions, Counts]) -> tuple:
        c = item[1]
        within = c.false_alarms_per_hour <= max_false_alarms
        value = getattr(c, objective)
        return (not within, -value if within else c.false_alarms_per_hour, -c.frame_f1)

    def scored(options: VadOptions) -> tuple[VadOptions, Counts]:
        counts = score(samples, options)
        if on_option is not None:
            on_option()
        return options, counts

    tried = [scored(o) for o in threshold_grid()]
    tried.sort(key=rank)
    tried += [scored(o) for o in pad_grid(tried[0][0]) if o != tried[0][0]]
    tried.sort(key=rank)
    return tried


def tune_samples(
    samples: list[Sample],
    labels_name: str,
    objective: str = "frame_f1",
    max_false_alarms: float = math.inf,
    on_option: Callable[[], None] | None = None,
) -> list[tuple[VadOptions, Counts]]:
    """`search`, refusing what cannot be tuned (the command and the web app both run this):
    samples with no labelled speech (`labels_name` names the labels in the message), and a
    false-alarm budget no option keeps."""
    if not any((s.labels >= 0.5).any() for s in samples):
        raise ClassRecError(f"{labels_name}: no labelled speech in the audio to tune on")
    tried = search(samples, objective, max_false_alarms, on_option)
    fewest = tried[0][1].false_alarms_per_hour
    if fewest > max_false_alarms:
        raise ClassRecError(
            f"no options keep within {max_false_alarms:g} false alarms per hour "
            f"(fewest: {fewest:.0f}); allow more"
        )
    return tried


def preset_about(
    samples: list[Sample], labels_name: str, objective: str, max_false_alarms: float, best: Counts
) -> dict:
    """What a preset file says about how it was made (for people; `options` is what counts)."""
    return {
        "tuned_on": [s.name for s in samples],
        "labels": labels_name,
        "objective": objective,
        "max_false_alarms_per_hour": None if math.isinf(max_false_alarms) else max_false_alarms,
        "scores": best.scores(),
    }


# -- output --------------------------------------------------------------------------------------
COLUMNS = "| threshold | neg | min speech ms | min silence ms | pad before | pad after |"


def _option_cells(o: VadOptions) -> str:
    neg = "" if o.neg_threshold is None else f"{o.neg_threshold:g}"
    return (
        f"| {o.threshold} | {neg} | {o.min_speech_ms} | {o.min_silence_ms} | "
        f"{o.pad_before_ms} | {o.pad_after_ms} |"
    )


def _score_cells(c: Counts) -> str:
    return f" {c.frame_f1:.3f} | {c.segment_f1:.3f} | {c.false_alarms_per_hour:.0f} |"


def table(rows: list[tuple[str, VadOptions, Counts, Counts | None]]) -> str:
    """Markdown table of (label, options, tuning counts, held-out counts or None)."""
    held = any(r[3] is not None for r in rows)
    head = f"| | {COLUMNS[2:]} frame F1 | segment F1 | false alarms / h |"
    if held:
        head += " held-out frame F1 | held-out segment F1 | held-out false alarms / h |"
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for label, options, counts, held_counts in rows:
        line = f"| {label} " + _option_cells(options) + _score_cells(counts)
        if held:
            line += _score_cells(held_counts)
        lines.append(line)
    return "\n".join(lines)


# -- command -------------------------------------------------------------------------------------
def run_tune(args: argparse.Namespace) -> int:
    if args.output:
        from classrec.outputs import check_writable

        check_writable(args.output, args.force)
    audio = [Path(a) for a in args.audio]
    if len(audio) > 1 and Path(args.labels).suffix.lower() != ".rttm":
        raise ClassRecError("several recordings need one RTTM file that labels them all")
    samples = [load_sample(Path(args.labels), a, shared_detector(SAMPLE_RATE)) for a in audio]
    tune, held = samples, []
    if args.holdout_from is not None:
        tune, held = split_samples(samples, args.holdout_from)
        if not tune or not held:
            raise ClassRecError(f"--holdout-from {args.holdout_from} leaves nothing on one side")
    tried = tune_samples(tune, args.labels, args.objective, args.max_false_alarms)
    best, best_counts = tried[0]
    shown = [(f"{i + 1}", o, c) for i, (o, c) in enumerate(tried[: args.top])]
    shown.append(("defaults", VadOptions(), score(tune, VadOptions())))
    rows = [(label, o, c, score(held, o) if held else None) for label, o, c in shown]
    print(f"{len(tried)} options tried on {sum(s.duration_s for s in tune):.0f} s; best first:")
    print(table(rows))
    if args.output:
        labels = Path(args.labels).name
        about = preset_about(tune, labels, args.objective, args.max_false_alarms, best_counts)
        save_preset(args.output, best, about, args.force)
        print(f"wrote {args.output}; use it with --preset {args.output}", file=sys.stderr)
    return 0


def add_tune_parser(sub) -> None:
    """Register `classrec tune`."""
    p = sub.add_parser(
        "tune",
        help="find the segmentation options that fit your labelled audio; write a preset",
        description=__doc__,
        epilog="examples:\n"
        "  classrec tune talk.txt talk.flac -o room.json      # Audacity labels\n"
        "  classrec tune meetings.rttm m1.flac m2.flac m3.flac -o meetings.json\n"
        "  classrec tune talk.json talk.flac --objective segment_f1\n"
        "  classrec tune talk.rttm talk.flac --max-false-alarms 30 -o quiet.json\n"
        "  classrec tune talk.rttm talk.flac --holdout-from 180   # tune on 3 min, score the rest\n"
        "  classrec detect lecture.flac --preset room.json    # then use the preset",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("labels", metavar="LABELS", help="speech labels: .rttm, .txt, .json, .csv")
    p.add_argument("audio", nargs="+", metavar="AUDIO", help="the labelled recording(s)")
    p.add_argument("-o", "--output", help="write the best options as a preset file (JSON)")
    p.add_argument("--objective", choices=OBJECTIVES, default="frame_f1", help="(frame_f1)")
    p.add_argument(
        "--max-false-alarms",
        type=float,
        default=math.inf,
        metavar="N",
        help="only options with at most N false alarms per hour of audio",
    )
    p.add_argument(
        "--holdout-from",
        type=float,
        metavar="S",
        help="tune on the first S seconds only; score the rest with the options found",
    )
    p.add_argument("--top", type=int, default=10, help="rows of the table (10)")
    p.add_argument("--force", action="store_true", help="overwrite the preset file")
    p.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    p.set_defaults(run=run_tune)
