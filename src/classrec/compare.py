"""`classrec compare-models A B`: is model B at least as good as model A?

Both weights files are scored on the fixed benchmark (`classrec.lab.benchmark`: split=dev, the same
under unseen noise per SNR band, noise-only audio) and, with `--labels FILE --audio FILE…`, on
the user's own labelled recordings. Per set: PR-AUC and F1 at 0.5 of the probabilities (the
model alone), and frame F1, segment F1 and false alarms per hour of the default segments (what a
user gets). The table shows B − A; a "worse" mark where B loses more than `TOLERANCE` (a score)
or has more false alarms by more than `ALARM_TOLERANCE` and at least `MIN_EXTRA_ALARMS` alarms.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE, window_samples
from classrec.lab import metrics
from classrec.lab.benchmark import Recording, Scored, benchmark_sets, counts, score_sets
from classrec.labels import read_labels, window_labels
from classrec.model import Detector
from classrec.segments import VadOptions

SHIPPED = "shipped"
TOLERANCE = 0.005
ALARM_TOLERANCE = 0.10
MIN_EXTRA_ALARMS = 2
HIGHER_IS_BETTER = ("pr_auc", "f1@0.5", "frame_f1", "segment_f1")
LOWER_IS_BETTER = ("false_alarms_per_hour",)


def load_detector(weights: str) -> Detector:
    """The detector for a weights file, or the shipped one for "shipped"."""
    if weights == SHIPPED:
        return Detector(SAMPLE_RATE)
    path = Path(weights)
    if not path.is_file():
        raise ClassRecError(f"{path}: weights file not found (or say '{SHIPPED}')")
    try:
        return Detector(SAMPLE_RATE, path)
    except (OSError, KeyError, ValueError) as exc:
        raise ClassRecError(f"{path}: not classrec weights ({exc})") from None


def user_set(labels: Path, audio: list[Path]) -> list[Recording]:
    """The user's recordings (16 kHz) with their labels."""
    from classrec.audio import load_audio

    out = []
    for path in audio:
        samples = load_audio(path, SAMPLE_RATE)
        n = -(-len(samples) // window_samples(SAMPLE_RATE))
        out.append(Recording(path.stem, samples, window_labels(read_labels(labels, path.stem), n)))
    return out


def set_scores(scored: list[Scored]) -> dict[str, float]:
    """The scores of one set (see the module docstring); noise-only sets get no F1."""
    probs = np.concatenate([s.probs[: len(s.recording.labels)] for s in scored])
    labels = np.concatenate([s.recording.labels[: len(s.probs)] for s in scored])
    c = counts(scored, VadOptions())
    row = {"false_alarms_per_hour": c.false_alarms_per_hour, "false_alarms": c.false_alarms}
    if (labels >= 0.5).any():
        row |= {
            "pr_auc": metrics.pr_auc(labels, probs),
            "f1@0.5": metrics.f1_at(labels, probs, 0.5),
            "frame_f1": c.frame_f1,
            "segment_f1": c.segment_f1,
        }
    return row


def is_worse(metric: str, a: dict, b: dict) -> bool:
    """B worse than A on `metric` beyond the tolerances."""
    if metric in HIGHER_IS_BETTER:
        return b[metric] < a[metric] - TOLERANCE
    extra = b["false_alarms"] - a["false_alarms"]
    return extra >= MIN_EXTRA_ALARMS and b[metric] > a[metric] * (1 + ALARM_TOLERANCE)


def compare(sets: dict[str, list[Recording]], a: Detector, b: Detector) -> dict:
    """{set: (scores of A, scores of B)}."""
    scored_a, scored_b = score_sets(sets, a), score_sets(sets, b)
    return {name: (set_scores(scored_a[name]), set_scores(scored_b[name])) for name in sets}


def table(results: dict) -> tuple[str, list[str]]:
    """(Markdown table, one line per set and metric where B is worse)."""
    lines = ["| set | metric | A | B | B − A | |", "|---|---|---|---|---|---|"]
    worse = []
    for name, (a, b) in results.items():
        for metric in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER):
            if metric not in a:
                continue
            digits = 0 if metric in LOWER_IS_BETTER else 3
            mark = "worse" if is_worse(metric, a, b) else ""
            if mark:
                worse.append(f"{name}: {metric} {a[metric]:.{digits}f} → {b[metric]:.{digits}f}")
            lines.append(
                f"| {name} | {metric} | {a[metric]:.{digits}f} | {b[metric]:.{digits}f} | "
                f"{b[metric] - a[metric]:+.{digits}f} | {mark} |"
            )
    return "\n".join(lines), worse


def run_compare(args: argparse.Namespace) -> int:
    if bool(args.labels) != bool(args.audio):
        raise ClassRecError("--labels and --audio go together")
    if args.audio and len(args.audio) > 1 and Path(args.labels).suffix.lower() != ".rttm":
        raise ClassRecError("several recordings need one RTTM file that labels them all")
    a, b = load_detector(args.a), load_detector(args.b)
    sets = {} if args.no_benchmark else benchmark_sets(args.data, noisy=not args.dev_only)
    if args.audio:
        sets["yours"] = user_set(Path(args.labels), [Path(p) for p in args.audio])
    if not sets:
        raise ClassRecError("nothing to score: drop --no-benchmark or give --labels and --audio")
    text, worse = table(compare(sets, a, b))
    print(f"A = {args.a}\nB = {args.b}\n")
    print(text)
    for line in worse:
        print(f"warning: B is worse on {line}", file=sys.stderr)
    return 1 if worse and args.fail_on_worse else 0


def add_compare_parser(sub) -> None:
    """Register `classrec compare-models`."""
    p = sub.add_parser(
        "compare-models",
        help="score two weights files on the benchmark (and your labels); show B − A",
        description=__doc__,
        epilog="examples:\n"
        "  classrec compare-models shipped finetuned.npz\n"
        "  classrec compare-models old.npz new.npz --labels talk.rttm --audio talk.flac\n"
        "  classrec compare-models shipped new.npz --dev-only --fail-on-worse   # in CI",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("a", metavar="A", help=f"weights .npz, or '{SHIPPED}'")
    p.add_argument("b", metavar="B", help=f"weights .npz, or '{SHIPPED}'")
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="corpus folder")
    p.add_argument("--dev-only", action="store_true", help="only split=dev, no noisy sets")
    p.add_argument("--no-benchmark", action="store_true", help="only your labelled audio")
    p.add_argument("--labels", help="your speech labels (.rttm, .txt, .json, .csv)")
    p.add_argument("--audio", nargs="+", help="the recordings they label")
    p.add_argument("--fail-on-worse", action="store_true", help="exit 1 where B is worse")
    p.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    p.set_defaults(run=run_compare)
