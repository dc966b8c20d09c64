"""Frame-level detection metrics, numpy only (no scikit-learn at run time).

Every function takes per-window speech targets (0/1, or fractions rounded at 0.5) and scores.
"""

from __future__ import annotations

import numpy as np

from classrec.features import WINDOW_SECONDS


def _binary(labels: np.ndarray) -> np.ndarray:
    return np.asarray(labels) >= 0.5


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance a speech window outscores a non-speech one (ties ½)."""
    y = _binary(labels)
    ranks = _average_ranks(np.asarray(scores, dtype=np.float64))
    n_pos, n_neg = y.sum(), (~y).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, first, counts = np.unique(sorted_x, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0  # 1-based average rank of each tie group
    ranks[order] = np.repeat(avg, counts)
    return ranks


def pr_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step-wise, as scikit-learn)."""
    y = _binary(labels)
    if y.sum() == 0:
        return float("nan")
    precision, recall, _ = _pr_curve(y, np.asarray(scores, dtype=np.float64))
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


def _pr_curve(y: np.ndarray, scores: np.ndarray):
    """Precision and recall at each distinct threshold, from high to low."""
    order = np.argsort(-scores, kind="mergesort")
    s, yy = scores[order], y[order]
    last = np.concatenate([np.flatnonzero(np.diff(s)), [len(s) - 1]])
    tp = np.cumsum(yy)[last]
    fp = (last + 1) - tp
    return tp / (tp + fp), tp / y.sum(), s[last]


def f1_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    y, pred = _binary(labels), np.asarray(scores) >= threshold
    tp = np.sum(y & pred)
    denom = 2 * tp + np.sum(~y & pred) + np.sum(y & ~pred)
    return float(2 * tp / denom) if denom else float("nan")


def best_f1(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(best F1 over thresholds, the threshold that gives it)."""
    precision, recall, thresholds = _pr_curve(_binary(labels), np.asarray(scores, np.float64))
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    i = int(np.argmax(f1))
    return float(f1[i]), float(thresholds[i])


def error_rates(
    labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> tuple[float, float]:
    """(false-alarm rate over non-speech windows, miss rate over speech windows) at `threshold`."""
    y, pred = _binary(labels), np.asarray(scores) >= threshold
    fa = float(np.mean(pred[~y])) if (~y).any() else float("nan")
    miss = float(np.mean(~pred[y])) if y.any() else float("nan")
    return fa, miss


def threshold_at_miss(labels: np.ndarray, scores: np.ndarray, miss: float) -> float:
    """The threshold below which `miss` of the speech windows fall (at most that share).

    False alarms compared at one fixed threshold reward caution: a model whose probabilities
    merely run lower gains there and pays in missed speech. Each detector at its own threshold
    for the same miss rate (a point on its DET curve) is compared on what it hears, not on how it
    is calibrated."""
    speech = np.sort(np.asarray(scores, dtype=np.float64)[_binary(labels)])
    if not len(speech):
        return float("nan")
    return float(speech[int(np.floor(miss * len(speech)))])


def false_alarms_per_hour(
    scores: np.ndarray, threshold: float = 0.5, min_windows: int = 1
) -> float:
    """Speech detections (runs of ≥ `min_windows` windows above threshold) per hour of audio that
    contains no speech at all."""
    above = np.concatenate([[0], (np.asarray(scores) >= threshold).astype(np.int8), [0]])
    starts, ends = np.flatnonzero(np.diff(above) == 1), np.flatnonzero(np.diff(above) == -1)
    runs = int(np.sum(ends - starts >= min_windows))
    hours = len(scores) * WINDOW_SECONDS / 3600.0
    return runs / hours if hours else float("nan")


def onset_delays(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5, horizon: int = 31):
    """Seconds from each labelled speech onset to the first window ≥ threshold (within ~1 s);
    onsets never detected in that horizon are counted separately as missed onsets."""
    y = _binary(labels).astype(np.int8)
    onsets = np.flatnonzero(np.diff(np.concatenate([[0], y])) == 1)
    delays, missed = [], 0
    pred = np.asarray(scores) >= threshold
    for t in onsets:
        hit = np.flatnonzero(pred[t : t + horizon])
        if len(hit):
            delays.append(hit[0] * WINDOW_SECONDS)
        else:
            missed += 1
    return np.array(delays), missed


DISTANCE_BINS = ((0, 3, "≤ 96 ms"), (4, 9, "128–288 ms"), (10, 31, "0.3–1 s"), (32, None, "> 1 s"))
"""Distance of a non-speech window to the nearest speech window, in windows (32 ms each)."""


def distance_to_speech(labels: np.ndarray) -> np.ndarray:
    """Windows from each window to the nearest speech window (0 on speech; a large number when
    the signal holds no speech at all)."""
    y = _binary(labels)
    n = len(y)
    far = np.full(n, 10**9, dtype=np.int64)
    if not y.any():
        return far
    idx = np.arange(n)
    last = np.maximum.accumulate(np.where(y, idx, -(10**9)))
    nxt = np.minimum.accumulate(np.where(y, idx, 2 * 10**9)[::-1])[::-1]
    return np.minimum(idx - last, nxt - idx)


def false_alarms_by_distance(
    labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Share of non-speech windows called speech, by their distance to the nearest speech
    window (DISTANCE_BINS): hang-over after words shows in the near bins, noise in the far one."""
    dist = distance_to_speech(labels)
    pred = np.asarray(scores) >= threshold
    out = {}
    for lo, hi, name in DISTANCE_BINS:
        sel = (dist >= max(lo, 1)) & (dist <= (hi if hi is not None else 10**9))
        out[name] = float(pred[sel].mean()) if sel.any() else float("nan")
    return out


def boundary_errors(
    reference: list[tuple[float, float]], hypothesis: list[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Signed start and end errors (s, hypothesis − reference) of each reference segment against
    the hypothesis segment that overlaps it most; reference segments no hypothesis overlaps are
    left out (they are misses, counted by the frame metrics)."""
    starts, ends = [], []
    for r0, r1 in reference:
        overlaps = [min(r1, h1) - max(r0, h0) for h0, h1 in hypothesis]
        if not overlaps or max(overlaps) <= 0:
            continue
        h0, h1 = hypothesis[int(np.argmax(overlaps))]
        starts.append(h0 - r0)
        ends.append(h1 - r1)
    return np.array(starts), np.array(ends)
