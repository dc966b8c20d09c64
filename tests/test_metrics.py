"""Frame metrics against scikit-learn's reference implementations on random and tied scores."""

from __future__ import annotations

import numpy as np
import pytest

from classrec.lab import metrics

sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(2000) < 0.6
    s = np.clip(y * 0.3 + rng.random(2000) * 0.8, 0, 1)
    s = np.round(s, 2)  # many ties
    assert metrics.roc_auc(y, s) == pytest.approx(sklearn_metrics.roc_auc_score(y, s), abs=1e-9)
    assert metrics.pr_auc(y, s) == pytest.approx(
        sklearn_metrics.average_precision_score(y, s), abs=1e-9
    )


def test_f1_and_best_threshold():
    y = np.array([0, 0, 1, 1, 1, 0])
    s = np.array([0.1, 0.6, 0.7, 0.8, 0.4, 0.2])
    assert metrics.f1_at(y, s, 0.5) == pytest.approx(sklearn_metrics.f1_score(y, s >= 0.5))
    best, thr = metrics.best_f1(y, s)
    assert best == pytest.approx(sklearn_metrics.f1_score(y, s >= thr))
    assert best >= metrics.f1_at(y, s, 0.5)


def test_false_alarms_per_hour_counts_runs():
    s = np.zeros(112500)  # one hour of 32 ms windows
    s[[10, 11, 500, 9000]] = 0.9
    assert metrics.false_alarms_per_hour(s) == pytest.approx(3.0)


def test_onset_delay():
    y = np.array([0] * 10 + [1] * 20 + [0] * 10 + [1] * 5)
    s = np.zeros(len(y))
    s[13:30] = 0.9
    delays, missed = metrics.onset_delays(y, s)
    assert delays.tolist() == pytest.approx([3 * 0.032])
    assert missed == 1


def test_threshold_at_miss_takes_calibration_out_of_false_alarms():
    """A detector whose probabilities merely run lower (here squared: same ranking) has fewer
    false alarms at 0.5, but at matched miss rate its false alarms are the same."""
    rng = np.random.default_rng(3)
    labels = rng.random(20000) < 0.4
    scores = np.where(labels, rng.beta(5, 2, 20000), rng.beta(2, 5, 20000))
    cautious = scores**2
    assert metrics.error_rates(labels, cautious)[0] < 0.5 * metrics.error_rates(labels, scores)[0]
    at = {}
    for name, s in (("plain", scores), ("cautious", cautious)):
        t = metrics.threshold_at_miss(labels, s, 0.05)
        fa, miss = metrics.error_rates(labels, s, t)
        assert 0.045 < miss <= 0.05
        at[name] = fa
    assert at["plain"] == pytest.approx(at["cautious"], abs=1e-4)
    assert np.isnan(metrics.threshold_at_miss(np.zeros(5), np.ones(5), 0.05))
