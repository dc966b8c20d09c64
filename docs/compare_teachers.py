"""Teachers for the recipe's distillation target: Silero, ClassRec models, and the mean of their
probabilities, scored like `classrec evaluate` (docs/model-card.md, the table of "Ensembles, and
Silero and v3 as two teachers").

    python3 docs/compare_teachers.py ../shared/data runs/cache WEIGHTS.npz [WEIGHTS.npz ...]

Each weights file is one ClassRec model; "ours" is the mean of their probabilities (an ensemble,
not a model that runs anywhere), and "mean" averages it with Silero's, as `--co-teacher` does.
"""

import sys
from pathlib import Path

import numpy as np

from classrec.lab import evaluate
from classrec.lab.peers import Silero

Probs = dict[str, list[np.ndarray]]


def mean(*detectors: Probs) -> Probs:
    """Per set and signal, the mean of the detectors' probabilities (cut to the shortest)."""
    out = {}
    for name in detectors[0]:
        signals = zip(*(d[name] for d in detectors), strict=True)
        out[name] = [np.mean([p[: min(map(len, ps))] for p in ps], axis=0) for ps in signals]
    return out


def row(name: str, probs: Probs, sets: list[evaluate.EvalSet]) -> str:
    """One table row: dev and noisy-mix figures at 0.5, false alarms per hour, end error, and
    the same at matched recall (5 % dev misses)."""
    by = {s.name: s for s in sets}
    dev = evaluate.score(probs["dev-real"], by["dev-real"].labels)
    noisy = evaluate.score(probs["heldout-noisy"], by["heldout-noisy"].labels)
    per_hour = [
        evaluate.score(probs[s], by[s].labels)["false_alarms_per_hour"]
        for s in ("noise-only", "noise-unseen-packages")
    ]
    end = evaluate.boundaries(probs["dev-real"], by["dev-real"].segments)["end_median_ms"]
    m = evaluate.matched(probs, sets)
    return (
        f"| {name} | {dev['pr_auc']:.4f} / {dev['roc_auc']:.4f} / {dev['false_alarm_rate']:.3f}"
        f" / {dev['miss_rate']:.3f} | {noisy['pr_auc']:.3f} / {noisy['roc_auc']:.3f}"
        f" | {per_hour[0]:.0f} / {per_hour[1]:.0f} | {end:+.0f} ms"
        f" | {m['threshold']:.2f}: {m['dev_false_alarm_rate']:.3f},"
        f" {m['noise-only_per_hour']:.0f} / {m['noise-unseen-packages_per_hour']:.0f} |"
    )


def main(data: Path, cache: Path, weights: list[Path]) -> None:
    sets = evaluate.build_sets(data, cache)
    silero = evaluate.set_probabilities(Silero(), sets)
    ours = mean(*(evaluate.set_probabilities(evaluate.Ours(w), sets) for w in weights))
    print(
        "| teacher | dev PR-AUC / ROC-AUC / FA / miss at 0.5 | noisy mix PR / ROC"
        " | false alarms / h, corpus / Debian | dev end"
        " | at 5 % dev misses: threshold: dev FA, false alarms / h |"
    )
    print("|---|---|---|---|---|---|")
    for name, probs in (("Silero v6", silero), ("ours", ours), ("mean", mean(silero, ours))):
        print(row(name, probs, sets), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), [Path(w) for w in sys.argv[3:]])
