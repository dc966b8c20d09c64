"""How well segments (what users get) match labelled speech: the scores `tune`, `compare-models`
and the threshold benchmark report.

    frame F1        over 32 ms windows: a window is found if a segment covers its middle, and
                    is speech if at least half of it is labelled speech
    segment F1      a found segment and a labelled one match (one to one, in time order) when
                    their intersection is at least half their union
    false alarms/h  found segments that touch no labelled speech, per hour of audio

`metrics` scores probabilities (threshold-free: PR-AUC, best F1); this module scores the output
of the whole segmentation, so the options (threshold, pauses, padding) count too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classrec.features import WINDOW_SECONDS
from classrec.segments import Segment

MATCH_IOU = 0.5


@dataclass
class Counts:
    """Counts that add up over recordings; the scores are computed from the totals."""

    tp: int = 0  # speech windows found
    fp: int = 0  # non-speech windows found
    fn: int = 0  # speech windows missed
    matched: int = 0  # segments matched one to one
    found: int = 0  # segments found
    labelled: int = 0  # labelled segments
    false_alarms: int = 0  # found segments touching no labelled speech
    seconds: float = 0.0  # audio scored

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple:
        return (self.tp, self.fp, self.fn, self.matched, self.found, self.labelled,
                self.false_alarms, self.seconds)  # fmt: skip

    @property
    def frame_f1(self) -> float:
        return _f1(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def segment_f1(self) -> float:
        return _f1(2 * self.matched, self.found + self.labelled)

    @property
    def false_alarms_per_hour(self) -> float:
        return self.false_alarms / self.seconds * 3600.0 if self.seconds else float("nan")

    def scores(self) -> dict[str, float]:
        return {
            "frame_f1": self.frame_f1,
            "segment_f1": self.segment_f1,
            "false_alarms_per_hour": self.false_alarms_per_hour,
        }


def _f1(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def window_mask(segments: list[Segment], n_windows: int, window_s: float = WINDOW_SECONDS):
    """True for each window whose middle lies inside a segment."""
    middles = (np.arange(n_windows) + 0.5) * window_s
    mask = np.zeros(n_windows, dtype=bool)
    for seg in segments:
        mask[np.searchsorted(middles, seg.start) : np.searchsorted(middles, seg.end)] = True
    return mask


def label_segments(labels: np.ndarray, window_s: float = WINDOW_SECONDS) -> list[Segment]:
    """Runs of windows labelled speech (fraction >= 0.5), as segments in seconds."""
    edges = np.diff(np.concatenate([[0], (np.asarray(labels) >= 0.5).astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [Segment(a * window_s, b * window_s) for a, b in zip(starts, stops, strict=True)]


def matched_segments(found: list[Segment], labelled: list[Segment]) -> int:
    """Found and labelled segments paired one to one (in time order) with IoU >= MATCH_IOU."""
    matched, j = 0, 0
    for seg in found:
        while j < len(labelled) and labelled[j].end <= seg.start:
            j += 1
        k = j
        while k < len(labelled) and labelled[k].start < seg.end:
            if _iou(seg, labelled[k]) >= MATCH_IOU:
                matched, j = matched + 1, k + 1
                break
            k += 1
    return matched


def _iou(a: Segment, b: Segment) -> float:
    inter = min(a.end, b.end) - max(a.start, b.start)
    return max(inter, 0.0) / (max(a.end, b.end) - min(a.start, b.start))


def count(
    found: list[Segment], labels: np.ndarray, duration_s: float, window_s: float = WINDOW_SECONDS
) -> Counts:
    """Counts for one recording: `found` segments against per-window speech `labels`."""
    truth = np.asarray(labels) >= 0.5
    pred = window_mask(found, len(truth), window_s)
    labelled = label_segments(labels, window_s)
    alarms = sum(not truth[window_mask([s], len(truth), window_s)].any() for s in found)
    return Counts(
        tp=int(np.sum(truth & pred)),
        fp=int(np.sum(~truth & pred)),
        fn=int(np.sum(truth & ~pred)),
        matched=matched_segments(found, labelled),
        found=len(found),
        labelled=len(labelled),
        false_alarms=int(alarms),
        seconds=duration_s,
    )
