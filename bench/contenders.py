"""The detectors compared: ClassRec and every installed peer, behind classrec.lab.peers' API."""

from __future__ import annotations

import numpy as np

from classrec import Detector
from classrec.lab.peers import Peer, StreamFn, available_peers

OURS = "classrec"


class ClassRec:
    """ClassRec in the peers' shape: `probabilities` for files, `det(window)` for streams."""

    name = OURS

    def __init__(self) -> None:
        self.detector = Detector(16000)

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        return self.detector.probabilities(samples, sample_rate=16000)

    def streaming(self) -> StreamFn:
        return Detector(16000)


def contenders() -> list[Peer]:
    """ClassRec first, then the peers whose packages are installed."""
    return [ClassRec(), *available_peers()]


def silero_or_none(peers: list[Peer]) -> Peer | None:
    """The Silero peer if installed: the reference every target is stated against."""
    return next((p for p in peers if p.name.startswith("silero")), None)
