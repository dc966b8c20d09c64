"""Score our detector and the peers (Silero, TEN, WebRTC) on the same audio in one run.

`classrec evaluate --data ../shared/data` builds these sets, none of it ever trained on:
  dev-real       split=dev: 32 real recordings in 10 languages labelled by people or forced
                 alignment (`speech/labelled-real/`), the independent judge of the model;
  heldout-real   the corpus's held-out real speech (LibriSpeech test-other, FSDD speaker yweweler)
                 as recorded, with frame-tight labels from the clean signal's energy;
  heldout-noisy  that speech mixed with noise and music kept out of training, impulsive events,
                 reverberation, pauses and level changes (SNR −5…30 dB);
  noise-only     the unseen noise and music plus generated bangs, knocks and ticks: no speech, so
                 every detection is a false alarm;
  noise-unseen-packages   music and effects from Debian packages the recipe never uses (fetched
                 with apt-get download when available; skipped otherwise).
and prints one table of frame metrics per detector and set, then false alarms by distance to the
nearest speech (hang-over shows near speech, noise far from it), segment boundary errors on
the dev set with the default segmentation options, and every detector at matched recall: at its
own threshold for a 5 % dev miss rate, so that a model that is only more cautious at 0.5 does
not look better than it hears.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE, WINDOW_SAMPLES
from classrec.lab import metrics
from classrec.model import Detector

WINDOW = WINDOW_SAMPLES[SAMPLE_RATE]

NOISY_CLIPS, NOISY_WINDOWS = 150, 500  # 150 × 16 s
NOISE_ONLY_CLIPS = 40  # 40 × 16 s
SEED = 12345  # differs from every training seed
MATCHED_MISS = 0.05  # the dev miss rate at which detectors are also compared (see `matched`)


@dataclass
class EvalSet:
    """Signals scored with fresh state each, their per-window speech targets and, where people
    labelled them, their reference speech segments (s)."""

    name: str
    signals: list[np.ndarray]
    labels: list[np.ndarray]
    segments: list[list[tuple[float, float]]] | None = None


DEV_FOLDER = "speech/labelled-real"


def dev_set(data: Path) -> EvalSet:
    """split=dev: real recordings labelled by people or forced alignment (never trained on),
    16 kHz, with the fraction of each 32 ms window inside a labelled speech region."""
    from classrec.audio import load_audio

    out = EvalSet("dev-real", [], [], [])
    for path in sorted((Path(data) / DEV_FOLDER).glob("*.flac")):
        audio = load_audio(path, SAMPLE_RATE)
        n = -(-len(audio) // WINDOW)
        mask = np.zeros(n * WINDOW, np.float32)
        regions = [tuple(r) for r in json.loads(path.with_suffix(".json").read_text())["speech"]]
        for start, end in regions:
            mask[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)] = 1.0
        out.signals.append(audio)
        out.labels.append(mask.reshape(n, WINDOW).mean(axis=1))
        out.segments.append(regions)
    if not out.signals:
        raise ClassRecError(f"{data}: no labelled recordings in {DEV_FOLDER}")
    return out


def unseen_packages_set(cache: Path) -> EvalSet | None:
    """16 s clips of music and effects from packages the recipe never trains on (no speech),
    or None when they cannot be fetched (no apt-get, no network)."""
    from classrec.train import packages

    try:  # names only, no VAD check: a VAD would drop what a scored peer calls speech
        found = packages.load(cache, which=packages.EVAL_PACKAGES)
    except (ClassRecError, OSError, subprocess.SubprocessError, StopIteration) as exc:
        print(f"skipping the unseen packages: {exc}")
        return None
    n = NOISY_WINDOWS * WINDOW
    out = EvalSet("noise-unseen-packages", [], [])
    for audio in found["music"] + found["noise"]:
        for first in range(0, max(len(audio) - n, 0) + 1, n):
            piece = audio[first : first + n]
            if len(piece) >= n // 4:
                out.signals.append(piece)
                out.labels.append(np.zeros(-(-len(piece) // WINDOW), np.float32))
    return out


@functools.cache
def heldout_corpus(data: Path):  # noqa: ANN201 - a classrec.train.corpus.Corpus
    """The held-out speech (energy labels) and unseen noise, loaded once per run: the frame
    sets and the class scores are both mixed from it."""
    from classrec.train.corpus import EnergyLabeller, load_corpus

    return load_corpus(data, None, EnergyLabeller(), split="heldout")


def build_sets(data: Path, cache: Path | None = None) -> list[EvalSet]:
    """The sets described in the module docstring (16 kHz); the unseen packages only with a
    cache folder to fetch them into."""
    from classrec.train import synth
    from classrec.train.mix import make_clip

    corpus = heldout_corpus(Path(data))
    if not corpus.speech:
        raise ClassRecError(f"{data}: no held-out speech in the manifest")
    real = EvalSet(
        "heldout-real", [u.audio for u in corpus.speech], [u.labels for u in corpus.speech]
    )
    noisy, noise_only = EvalSet("heldout-noisy", [], []), EvalSet("noise-only", [], [])
    rng = np.random.default_rng(SEED)
    while len(noisy.signals) < NOISY_CLIPS:
        audio, labels, rate, _ = make_clip(rng, corpus, NOISY_WINDOWS)
        if rate == SAMPLE_RATE and labels.any():
            noisy.signals.append(audio)
            noisy.labels.append(labels)
    n = NOISY_WINDOWS * WINDOW
    for i in range(NOISE_ONLY_CLIPS):
        pool = corpus.noise + corpus.music
        x = pool[i % len(pool)]
        x = np.resize(x, n) / (np.abs(x).max() + 1e-9) * 0.3
        for _ in range(4):
            ev = synth.event(rng) if i % 2 else corpus.events[int(rng.integers(len(corpus.events)))]
            start = int(rng.integers(0, n - len(ev)))
            x[start : start + len(ev)] += ev[: n - start] * rng.uniform(0.2, 0.9)
        noise_only.signals.append(np.clip(x, -1, 1).astype(np.float32))
        noise_only.labels.append(np.zeros(NOISY_WINDOWS, np.float32))
    sets = [dev_set(data), real, noisy, noise_only]
    unseen = unseen_packages_set(cache) if cache is not None else None
    return sets + ([unseen] if unseen is not None else [])


class Ours:
    """Our detector behind the peers' interface; at 8 kHz the 16 kHz audio is resampled first."""

    def __init__(self, weights: Path | None = None, sample_rate: int = SAMPLE_RATE) -> None:
        self.detector = Detector(sample_rate, weights)
        native = sample_rate == SAMPLE_RATE
        self.name = "classrec (ours)" if native else f"classrec @ {sample_rate} Hz"

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        rate = self.detector.sample_rate
        if rate != SAMPLE_RATE:
            samples = soxr.resample(samples, SAMPLE_RATE, rate).astype(np.float32)
        return self.detector.probabilities(samples, sample_rate=rate)


def detectors(weights: Path | None = None, peers: bool = True) -> list:
    """Ours first, then every peer whose package is installed."""
    found = [Ours(weights), Ours(weights, 8000)]
    if peers:
        from classrec.lab import peers as peer_module

        for cls in (peer_module.Silero, peer_module.TenVad, peer_module.WebRtc):
            try:
                found.append(cls())
            except ClassRecError as exc:
                print(f"skipping a peer: {exc}")
    return found


def set_probabilities(det, sets: list[EvalSet]) -> dict[str, list[np.ndarray]]:
    """One detector's probabilities for every signal of every set, by set name."""
    return {s.name: [det.probabilities(x) for x in s.signals] for s in sets}


def _joined(probs: list[np.ndarray], labels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) of a set's signals, each cut to the shorter, concatenated."""
    pairs = list(zip(probs, labels, strict=True))
    return (
        np.concatenate([y[: len(p)] for p, y in pairs]),
        np.concatenate([p[: len(y)] for p, y in pairs]),
    )


def score(scores: list[np.ndarray], labels: list[np.ndarray]) -> dict[str, float]:
    """All metrics over the concatenation of a set's signals."""
    y, s = _joined(scores, labels)
    fa, miss = metrics.error_rates(y, s)
    row = {"false_alarm_rate": fa, "miss_rate": miss}
    if (y >= 0.5).any():
        best, thr = metrics.best_f1(y, s)
        pairs = zip(scores, labels, strict=True)
        d = np.concatenate([metrics.onset_delays(yy[: len(p)], p[: len(yy)])[0] for p, yy in pairs])
        row |= {
            "pr_auc": metrics.pr_auc(y, s),
            "roc_auc": metrics.roc_auc(y, s),
            "f1@0.5": metrics.f1_at(y, s, 0.5),
            "best_f1": best,
            "best_threshold": thr,
            "onset_delay_ms": float(np.median(d) * 1000) if len(d) else float("nan"),
        }
    else:
        row["false_alarms_per_hour"] = metrics.false_alarms_per_hour(s, 0.5)
    return row


COLUMNS = [
    "pr_auc",
    "roc_auc",
    "f1@0.5",
    "best_f1",
    "best_threshold",
    "false_alarm_rate",
    "miss_rate",
    "onset_delay_ms",
    "false_alarms_per_hour",
]


def distance_table(distance: dict[str, dict[str, dict[str, float]]]) -> str:
    """Markdown table: false-alarm rate by distance to the nearest speech, per set and detector."""
    bins = [name for _, _, name in metrics.DISTANCE_BINS]
    lines = ["| set | detector | " + " | ".join(bins) + " |", "|" + "---|" * (len(bins) + 2)]
    for set_name, per_det in distance.items():
        for det_name, row in per_det.items():
            cells = " | ".join(f"{row[b]:.3f}" for b in bins)
            lines.append(f"| {set_name} | {det_name} | {cells} |")
    return "\n".join(lines)


def boundary_table(bounds: dict[str, dict[str, float]]) -> str:
    """Markdown table: median start/end errors (ms, signed and absolute) on the dev set."""
    cols = ["start_median_ms", "start_median_abs_ms", "end_median_ms", "end_median_abs_ms"]
    lines = ["| detector | " + " | ".join(cols) + " | matched |", "|" + "---|" * (len(cols) + 2)]
    for det_name, row in bounds.items():
        cells = " | ".join(f"{row[c]:+.0f}" if "abs" not in c else f"{row[c]:.0f}" for c in cols)
        lines.append(f"| {det_name} | {cells} | {row['matched']:.0f}/{row['reference']:.0f} |")
    return "\n".join(lines)


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """Markdown table: one row per (set, detector)."""
    head = "| set | detector | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for set_name, per_det in results.items():
        for det_name, row in per_det.items():
            cells = [
                f"{row[c]:.3f}"
                if c in row and c != "false_alarms_per_hour"
                else (f"{row[c]:.0f}" if c in row else "")
                for c in COLUMNS
            ]
            lines.append(f"| {set_name} | {det_name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def class_scores(data: Path, weights: Path | None = None) -> dict[str, dict[str, float]]:
    """How well the music and noise outputs (`Detector.classes`) find what the mixer put in the
    held-out noisy mix (unseen noise and music): ROC-AUC and accuracy at 0.5 per class, and the
    speech output's as a reference."""
    from classrec.train.mix import make_clip

    corpus = heldout_corpus(Path(data))
    rng = np.random.default_rng(SEED + 1)
    det = Detector(SAMPLE_RATE, weights)
    truth, probs = [], []
    while len(truth) < NOISY_CLIPS:
        audio, labels, rate, classes = make_clip(rng, corpus, NOISY_WINDOWS)
        if rate == SAMPLE_RATE:
            truth.append(np.column_stack([labels, classes]))
            probs.append(det.classes(audio, sample_rate=SAMPLE_RATE)[:NOISY_WINDOWS])
    y, p = np.concatenate(truth), np.concatenate(probs)
    return {
        name: {
            "roc_auc": metrics.roc_auc(y[:, i], p[:, i]),
            "accuracy@0.5": float(np.mean((y[:, i] >= 0.5) == (p[:, i] >= 0.5))),
            "share": float(np.mean(y[:, i] >= 0.5)),
        }
        for i, name in enumerate(Detector.CLASSES)
    }


def boundaries(
    probs: list[np.ndarray], reference: list[list[tuple[float, float]]], threshold: float = 0.5
) -> dict[str, float]:
    """Median segment boundary errors (ms) of the default segmentation (at `threshold`) against
    the reference regions, whose pauses shorter than the segmenter's merge gap are merged first
    (the segmenter could never report them)."""
    from classrec.segments import VadOptions, speech_segments

    options = VadOptions(threshold=threshold)
    gap = options.merge_gap_windows() * 0.032
    starts, ends = [], []
    for p, ref in zip(probs, reference, strict=True):
        merged: list[list[float]] = []
        for a, b in ref:
            if merged and a - merged[-1][1] < gap:
                merged[-1][1] = b
            else:
                merged.append([a, b])
        hyp = [(seg.start, seg.end) for seg in speech_segments(p, options)]
        s, e = metrics.boundary_errors([tuple(m) for m in merged], hyp)
        starts.append(s)
        ends.append(e)
    s, e = np.concatenate(starts) * 1000, np.concatenate(ends) * 1000
    return {
        "start_median_ms": float(np.median(s)),
        "start_median_abs_ms": float(np.median(np.abs(s))),
        "end_median_ms": float(np.median(e)),
        "end_median_abs_ms": float(np.median(np.abs(e))),
        "matched": float(len(e)),
        "reference": float(sum(len(r) for r in reference)),
    }


def matched(probs: dict[str, list[np.ndarray]], sets: list[EvalSet]) -> dict[str, float]:
    """One detector at its own threshold for a MATCHED_MISS miss rate on the dev set: its false
    alarms there (dev, the noisy mix, per hour on the noise sets) and its dev segment end error.
    Fixed-threshold figures can be moved by calibration alone; these cannot. Only the threshold
    is given where no threshold in (0, 1) gives that miss rate."""
    by_name = {s.name: s for s in sets}
    dev = by_name["dev-real"]
    dev_labels, dev_probs = _joined(probs[dev.name], dev.labels)
    threshold = metrics.threshold_at_miss(dev_labels, dev_probs, MATCHED_MISS)
    if not 0.0 < threshold < 1.0:  # a detector with few distinct scores (WebRTC: 0 or 1)
        return {"threshold": threshold}
    row = {
        "threshold": threshold,
        "dev_false_alarm_rate": metrics.error_rates(dev_labels, dev_probs, threshold)[0],
    }
    if "heldout-noisy" in probs:
        fa, miss = metrics.error_rates(
            *_joined(probs["heldout-noisy"], by_name["heldout-noisy"].labels), threshold
        )
        row |= {"noisy_false_alarm_rate": fa, "noisy_miss_rate": miss}
    for name in ("noise-only", "noise-unseen-packages"):
        if name in probs:
            row[f"{name}_per_hour"] = metrics.false_alarms_per_hour(
                np.concatenate(probs[name]), threshold
            )
    if dev.segments is not None:
        row["end_median_ms"] = boundaries(probs[dev.name], dev.segments, threshold)["end_median_ms"]
    return row


def evaluate(
    data: Path, weights: Path | None = None, peers: bool = True, cache: Path | None = None
) -> dict:
    """Run every detector over every set; return {"frames": {set: {detector: metrics}},
    "distance": {set: {detector: {bin: rate}}}, "boundaries": {detector: errors},
    "matched": {detector: figures at matched recall}}."""
    sets = build_sets(data, cache)
    frames: dict[str, dict[str, dict[str, float]]] = {s.name: {} for s in sets}
    distance: dict[str, dict[str, dict[str, float]]] = {}
    bounds: dict[str, dict[str, float]] = {}
    at_recall: dict[str, dict[str, float]] = {}
    for det in detectors(weights, peers):
        probs = set_probabilities(det, sets)
        for s in sets:
            frames[s.name][det.name] = score(probs[s.name], s.labels)
            if s.name in ("dev-real", "heldout-noisy"):
                y, pp = _joined(probs[s.name], s.labels)
                distance.setdefault(s.name, {})[det.name] = metrics.false_alarms_by_distance(y, pp)
            if s.segments is not None:
                bounds[det.name] = boundaries(probs[s.name], s.segments)
        at_recall[det.name] = matched(probs, sets)
    return {"frames": frames, "distance": distance, "boundaries": bounds, "matched": at_recall}


def matched_table(rows: dict[str, dict[str, float]]) -> str:
    """Markdown table of `matched`: each detector at its threshold for the same dev miss rate."""
    cols = [
        ("threshold", "threshold", "{:.2f}"),
        ("dev_false_alarm_rate", "dev false-alarm rate", "{:.3f}"),
        ("noisy_false_alarm_rate", "noisy mix false-alarm rate", "{:.3f}"),
        ("noisy_miss_rate", "noisy mix miss rate", "{:.3f}"),
        ("noise-only_per_hour", "false alarms / h, noise-only", "{:.0f}"),
        ("noise-unseen-packages_per_hour", "false alarms / h, unseen packages", "{:.0f}"),
        ("end_median_ms", "dev end error, ms", "{:+.0f}"),
    ]
    head = "| detector | " + " | ".join(c[1] for c in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for name, row in rows.items():
        cells = [fmt.format(row[key]) if key in row else "" for key, _, fmt in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `classrec evaluate`."""
    p = sub.add_parser(
        "evaluate",
        help="score ours and the peers on held-out audio",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="corpus folder")
    p.add_argument("--weights", type=Path, default=None, help="weights .npz (default: shipped)")
    p.add_argument("--no-peers", action="store_true", help="score only our detector")
    p.add_argument("--no-classes", action="store_true", help="skip the music/noise outputs")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    p.add_argument(
        "--cache",
        type=Path,
        default=Path("runs/cache/eval-packages"),
        help="where unseen Debian packages are fetched (apt-get download) for the noise-only set",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    results = evaluate(args.data, args.weights, not args.no_peers, args.cache)
    print(table(results["frames"]))
    print("\nFalse-alarm rate at 0.5 by distance to the nearest speech window:\n")
    print(distance_table(results["distance"]))
    print("\nSegment boundary errors on dev-real, default options (ms, signed: + is late):\n")
    print(boundary_table(results["boundaries"]))
    print(
        f"\nAt matched recall: each detector at its own threshold for a {MATCHED_MISS:.0%} miss"
        " rate on dev-real (segments with the default options at that threshold; empty where"
        " the detector's scores cannot reach that rate):\n"
    )
    print(matched_table(results["matched"]))
    if not args.no_classes:
        scores = class_scores(args.data, args.weights)
        results["classes"] = scores
        print("\nSpeech / music / noise outputs on the held-out noisy mix (ours, 16 kHz):\n")
        print("| output | ROC-AUC | accuracy at 0.5 | share of windows |\n|---|---|---|---|")
        for name, row in scores.items():
            cells = f"{row['roc_auc']:.3f} | {row['accuracy@0.5']:.3f} | {row['share']:.2f}"
            print(f"| {name} | {cells} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="classrec-evaluate")
    add_parser(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
