"""docs/memory.md's sentences come from the measured tables, comparisons the right way round."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from classrec.train.memory import summary  # noqa: E402

NAMES = ("memoryless CNN", "plain RNN", "GRU", "LSTM")


def _tables(noise: tuple, bangs: tuple) -> tuple[dict, dict]:
    results = {
        "noise-only": {n: {"false_alarms_per_hour": v} for n, v in zip(NAMES, noise, strict=True)},
        "dev-real": {n: {"roc_auc": 0.9} for n in NAMES},
    }
    figures = {
        n: {"bang_fa_per_hour": b, "bang_peak": 0.9, "onset_curve": [0.2, 0.6]}
        for n, b in zip(NAMES, bangs, strict=True)
    }
    return results, figures


def test_summary_says_fewer_or_more_as_measured() -> None:
    text = summary(*_tables(noise=(4000, 1000, 500, 400), bangs=(300, 300, 200, 600)))
    assert "4,000 false alarms per hour" in text and "LSTM 400" in text
    assert "The LSTM: 10.0× fewer than the CNN" in text
    assert "the LSTM 2.0× more than the CNN" in text
