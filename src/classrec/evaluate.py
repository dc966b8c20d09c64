"""Score our detector and the peers (Silero, TEN, WebRTC) on the same held-out audio in one run.

`classrec evaluate --data ../shared/data` builds three held-out sets, none of it ever trained on:
  heldout-real   the corpus's held-out real speech (LibriSpeech test-other, FSDD speaker yweweler)
                 as recorded, labelled from the clean signal's energy (no detector's opinion);
  heldout-noisy  that speech mixed with noise and music kept out of training, impulsive events,
                 reverberation, pauses and level changes (SNR −5…30 dB);
  noise-only     the unseen noise and music plus generated bangs, knocks and ticks: no speech, so
                 every detection is a false alarm.
and prints one table of frame metrics per detector and set.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from classrec import metrics
from classrec.errors import ClassRecError
from classrec.model import Detector

NOISY_CLIPS, NOISY_WINDOWS = 150, 500  # 150 × 16 s
NOISE_ONLY_CLIPS = 40  # 40 × 16 s
SEED = 12345  # differs from every training seed


@dataclass
class EvalSet:
    """Signals scored with fresh state each, and their per-window speech targets."""

    name: str
    signals: list[np.ndarray]
    labels: list[np.ndarray]


DEV_FOLDER = "speech/labelled-real"


def dev_signals(data: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """split=dev: real recordings labelled by people or forced alignment (never trained on),
    16 kHz, with the fraction of each 32 ms window inside a labelled speech region."""
    from classrec.audio import load_audio

    signals, labels = [], []
    for path in sorted((Path(data) / DEV_FOLDER).glob("*.flac")):
        audio = load_audio(path, 16000)
        n = -(-len(audio) // 512)
        mask = np.zeros(n * 512, np.float32)
        for start, end in json.loads(path.with_suffix(".json").read_text())["speech"]:
            mask[int(start * 16000) : int(end * 16000)] = 1.0
        signals.append(audio)
        labels.append(mask.reshape(n, 512).mean(axis=1))
    if not signals:
        raise ClassRecError(f"{data}: no labelled recordings in {DEV_FOLDER}")
    return signals, labels


def build_sets(data: Path) -> list[EvalSet]:
    """The three held-out sets described in the module docstring (16 kHz)."""
    from classrec.train import synth
    from classrec.train.corpus import EnergyLabeller, load_corpus
    from classrec.train.mix import make_clip

    corpus = load_corpus(data, None, EnergyLabeller(), split="heldout")
    if not corpus.speech:
        raise ClassRecError(f"{data}: no held-out speech in the manifest")
    real = EvalSet(
        "heldout-real", [u.audio for u in corpus.speech], [u.labels for u in corpus.speech]
    )
    noisy, noise_only = EvalSet("heldout-noisy", [], []), EvalSet("noise-only", [], [])
    rng = np.random.default_rng(SEED)
    while len(noisy.signals) < NOISY_CLIPS:
        audio, labels, rate, _ = make_clip(rng, corpus, NOISY_WINDOWS)
        if rate == 16000 and labels.any():
            noisy.signals.append(audio)
            noisy.labels.append(labels)
    n = NOISY_WINDOWS * 512
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
    return [real, noisy, noise_only]


class Ours:
    """Our detector behind the peers' interface; at 8 kHz the 16 kHz audio is resampled first."""

    def __init__(self, weights: Path | None = None, sample_rate: int = 16000) -> None:
        self.detector = Detector(sample_rate, weights)
        self.name = "classrec (ours)" if sample_rate == 16000 else f"classrec @ {sample_rate} Hz"

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        rate = self.detector.sample_rate
        if rate != 16000:
            samples = soxr.resample(samples, 16000, rate).astype(np.float32)
        return self.detector.probabilities(samples)


def detectors(weights: Path | None = None, peers: bool = True) -> list:
    """Ours first, then every peer whose package is installed."""
    found = [Ours(weights), Ours(weights, 8000)]
    if peers:
        from classrec import peers as peer_module

        for cls in (peer_module.Silero, peer_module.TenVad, peer_module.WebRtc):
            try:
                found.append(cls())
            except ClassRecError as exc:
                print(f"skipping a peer: {exc}")
    return found


def score(scores: list[np.ndarray], labels: list[np.ndarray]) -> dict[str, float]:
    """All metrics over the concatenation of a set's signals."""
    s = np.concatenate([p[: len(y)] for p, y in zip(scores, labels, strict=False)])
    y = np.concatenate([y[: len(p)] for p, y in zip(scores, labels, strict=False)])
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


def evaluate(data: Path, weights: Path | None = None, peers: bool = True) -> dict:
    """Run every detector over every held-out set; return {set: {detector: metrics}}."""
    sets = build_sets(data)
    results: dict[str, dict[str, dict[str, float]]] = {s.name: {} for s in sets}
    for det in detectors(weights, peers):
        for s in sets:
            results[s.name][det.name] = score([det.probabilities(x) for x in s.signals], s.labels)
    return results


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
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    results = evaluate(args.data, args.weights, not args.no_peers)
    print(table(results))
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
