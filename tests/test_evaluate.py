"""classrec evaluate's comparison at matched recall (the sets themselves need the corpus)."""

from __future__ import annotations

import numpy as np
import pytest

from classrec.lab.evaluate import MATCHED_MISS, EvalSet, matched, matched_table


def _sets_and_probs(rng: np.random.Generator):
    """A dev set of speech bursts with reference segments, a noisy set, and noise alone."""
    labels = np.zeros(3000, np.float32)
    for start in range(100, 2900, 300):
        labels[start : start + 120] = 1.0
    segments = [(s * 0.032, (s + 120) * 0.032) for s in range(100, 2900, 300)]
    dev = EvalSet("dev-real", [np.zeros(1)], [labels], [segments])
    noisy = EvalSet("heldout-noisy", [np.zeros(1)], [labels])
    noise = EvalSet("noise-only", [np.zeros(1)], [np.zeros(3000, np.float32)])

    def probs(y):
        return np.clip(np.where(y > 0, 0.8, 0.15) + rng.normal(0, 0.15, len(y)), 0, 1)

    return [dev, noisy, noise], {
        "dev-real": [probs(labels)],
        "heldout-noisy": [probs(labels)],
        "noise-only": [probs(np.zeros(3000))],
    }


def test_matched_recall_ignores_calibration():
    """Squaring every probability (same ranking, more cautious at 0.5) leaves the figures at
    matched recall as they were, threshold aside."""
    sets, probs = _sets_and_probs(np.random.default_rng(0))
    plain = matched(probs, sets)
    cautious = matched({k: [p**2 for p in v] for k, v in probs.items()}, sets)
    assert cautious["threshold"] == pytest.approx(plain["threshold"] ** 2)
    for key in ("dev_false_alarm_rate", "noisy_false_alarm_rate", "noise-only_per_hour"):
        assert cautious[key] == pytest.approx(plain[key])
    assert cautious["end_median_ms"] == plain["end_median_ms"]
    y, p = sets[0].labels[0], probs["dev-real"][0]
    assert np.mean(p[y > 0] < plain["threshold"]) <= MATCHED_MISS
    assert "noise-unseen-packages_per_hour" not in plain
    table = matched_table({"ours": plain})
    assert table.splitlines()[2].startswith(f"| ours | {plain['threshold']:.2f} |")


def test_matched_recall_is_empty_where_the_scores_cannot_reach_it():
    """A detector that says 0 or 1 and misses more than 5 % of the speech at any threshold."""
    sets, probs = _sets_and_probs(np.random.default_rng(1))
    binary = {k: [(p > 0.6).astype(np.float32) for p in v] for k, v in probs.items()}
    row = matched(binary, sets)
    assert list(row) == ["threshold"] and row["threshold"] == 0.0
    assert matched_table({"binary": row}).splitlines()[2] == "| binary | 0.00 |  |  |  |  |  |  |"
