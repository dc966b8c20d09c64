"""Where the false alarms on noise are: runs at 0.5 per source of `classrec evaluate`'s noise-only
set, and false alarms per hour counted as runs and as default-option segments, for ClassRec and
Silero (docs/model-card.md, "Where the corpus noise's false alarms are").

    python3 docs/false_alarm_sources.py ../shared/data runs/cache [WEIGHTS.npz]

The noise-only clip i is built from the i-th source of the held-out noise and music (cycled), as
`classrec.lab.evaluate.build_sets` makes it; the sources are named from the manifest in the order
`classrec.train.corpus.load_corpus` reads it.
"""

import sys
from collections import Counter
from pathlib import Path

import numpy as np

from classrec.features import WINDOW_SECONDS
from classrec.lab import evaluate
from classrec.lab.peers import Silero
from classrec.segments import runs, speech_segments
from classrec.train.corpus import RATE, is_unseen_noise, manifest

NOISE_SETS = ("noise-only", "noise-unseen-packages")


def source_names(data: Path, pool: list[np.ndarray]) -> list[str]:
    """File names of the held-out noise pool (long noises, then music), in load order, checked
    against the loaded sounds' lengths so a change in that order cannot mislabel them."""
    rows = [
        r for r in manifest(data) if r["kind"] in ("noise", "music") and is_unseen_noise(r["path"])
    ]
    noise = [r for r in rows if r["kind"] == "noise" and float(r["duration_s"]) >= 2.5]
    ordered = noise + [r for r in rows if r["kind"] == "music"]
    lengths = [round(float(r["duration_s"]), 1) for r in ordered]
    if lengths != [round(len(x) / RATE, 1) for x in pool]:
        raise SystemExit("the held-out noise pool is not in manifest order; update source_names")
    return [Path(r["path"]).name for r in ordered]


def main(data: Path, cache: Path, weights: Path | None) -> None:
    sets = {s.name: s for s in evaluate.build_sets(data, cache)}
    corpus = evaluate.heldout_corpus(data)
    names = source_names(data, corpus.noise + corpus.music)
    for det in (evaluate.Ours(weights), Silero()):
        probs = evaluate.set_probabilities(det, [sets[n] for n in NOISE_SETS])
        by_source = Counter()
        for i, p in enumerate(probs["noise-only"]):
            by_source[names[i % len(names)]] += len(runs(p >= 0.5))
        print(f"{det.name}: runs at 0.5 by source: {dict(by_source.most_common(5))}")
        for set_name in NOISE_SETS:
            hours = sum(map(len, probs[set_name])) * WINDOW_SECONDS / 3600
            per_hour = evaluate.score(probs[set_name], sets[set_name].labels)
            n_segments = sum(len(speech_segments(p)) for p in probs[set_name])
            print(
                f"  {set_name}: {per_hour['false_alarms_per_hour']:.0f} runs / h, "
                f"{n_segments / hours:.0f} default-option segments / h"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None)
