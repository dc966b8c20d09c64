"""`threshold="auto"`: a speech threshold that follows each recording, never looking ahead.

The rule, measured on split=dev and its noisy mixes (docs/cli.md, "Self-calibrating threshold"):
in noise the detector is less sure of speech it does hear, and a lower threshold then finds more
of it; in a quiet room it is sure, and a higher threshold trims the pauses it bridges. So

    confidence = 20th percentile of the probabilities >= 0.5 in the last minute or so
    threshold  = 0.5 + 2 × (confidence − 0.95), clipped to [0.3, 0.7]

The "last minute" is a histogram of past probabilities that decays with a time constant of
`MEMORY_S`; until it holds `WARMUP_S` seconds of windows >= 0.5 the threshold is 0.5, and it
moves only when such a window arrives (long silence keeps the last calibration). The threshold of
window i depends only on windows before i, so a live stream and the whole file give the same
result, and memory is one small histogram per recording.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from classrec.features import WINDOW_SECONDS

AUTO = "auto"
START = 0.5
"""Threshold before enough speech has been heard, and the centre of the rule."""
REFERENCE = 0.95
"""Confidence at which the threshold stays at START."""
SLOPE = 2.0
LOWEST, HIGHEST = 0.3, 0.7
QUANTILE = 0.2
MEMORY_S = 60.0
"""Time constant (s) of the histogram's decay: older audio counts less, so a room change shows."""
WARMUP_S = 3.0
"""Seconds of windows >= 0.5 needed before the threshold moves from START."""
BINS = 50
"""Histogram bins over [0.5, 1] (0.01 wide)."""
HYSTERESIS = 0.15
"""Default gap between the threshold and the one that ends speech (as for a fixed threshold)."""


class AutoThreshold:
    """The threshold of each window from the probabilities of the windows before it.

    One per recording or live stream: it carries the decaying histogram from call to call.
    """

    def __init__(self, window_s: float = WINDOW_SECONDS) -> None:
        self._decay = math.exp(-window_s / MEMORY_S)
        self._warmup = WARMUP_S / window_s  # windows
        self._hist = np.zeros(BINS)
        self._threshold = START

    def thresholds(self, probs: np.ndarray) -> np.ndarray:
        """The threshold for each of the next windows (one per probability)."""
        probs = np.asarray(probs, dtype=np.float64)
        out = np.empty(len(probs))
        bins = np.clip(((probs - 0.5) * 2 * BINS).astype(int), 0, BINS - 1)
        for i, (p, b) in enumerate(zip(probs.tolist(), bins.tolist(), strict=True)):
            out[i] = self._threshold
            self._hist *= self._decay
            if p >= 0.5:
                self._hist[b] += 1.0
                self._threshold = self._rule()
        return out

    def _rule(self) -> float:
        total = self._hist.sum()
        if total < self._warmup:
            return START
        cumulative = np.cumsum(self._hist)
        confidence = 0.5 + (np.searchsorted(cumulative, QUANTILE * total) + 0.5) / (2 * BINS)
        return float(np.clip(START + SLOPE * (confidence - REFERENCE), LOWEST, HIGHEST))

    def on_off(
        self, probs: np.ndarray, neg_threshold: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(threshold that starts speech, threshold that ends it) per window: the end one is
        `neg_threshold` (never above the start one), or HYSTERESIS lower, at least 0.01."""
        on = self.thresholds(probs)
        if neg_threshold is None:
            return on, np.maximum(on - HYSTERESIS, 0.01)
        return on, np.minimum(neg_threshold, on)


def parse_threshold(text: str) -> float | str:
    """A command-line threshold: "auto" or a number (argparse `type=`)."""
    if text.strip().lower() == AUTO:
        return AUTO
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
