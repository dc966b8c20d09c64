"""The fixed benchmark that segmentation options and model versions are judged on.

Built from the corpus (`--data`, default ../shared/data), the same every run (fixed seed):
  dev          split=dev: 32 real recordings labelled by people or forced alignment (quiet rooms)
  dev@SNR      the same recordings with a noise kept out of training added at SNR dB (20 … -5),
               the speech level measured over the labelled speech only
  noise-only   every noise and music file kept out of training, at a fixed peak level: no speech,
               so each detected segment is a false alarm

Labels are the fraction of each 32 ms window inside a labelled speech region (16 kHz).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classrec.audio import load_audio
from classrec.evaluate import DEV_FOLDER
from classrec.evaluate import dev_set as evaluate_dev_set
from classrec.features import WINDOW_SAMPLES

RATE = 16000
SNR_BANDS_DB = (20, 10, 5, 0, -5)
SEED = 2024
NOISE_PEAK = 0.3
"""Peak level of the noise-only recordings (as in `classrec evaluate`)."""
MIN_LOOP_S = 3.0
"""Noises shorter than this (bangs, kicks) are not looped under speech: only beds are."""


@dataclass
class Recording:
    """One recording of a set: 16 kHz samples and the speech fraction of each 32 ms window."""

    name: str
    samples: np.ndarray
    labels: np.ndarray

    @property
    def duration_s(self) -> float:
        return len(self.samples) / RATE


def unseen_noises(data: Path) -> list[tuple[str, np.ndarray]]:
    """(path, 16 kHz samples) of the noise and music files never trained on, sorted by path."""
    from classrec.train.corpus import is_unseen_noise, manifest

    rows = [r for r in manifest(Path(data)) if r["kind"] in ("noise", "music")]
    paths = sorted(r["path"] for r in rows if is_unseen_noise(r["path"]))
    return [(p, load_audio(Path(data) / p, RATE)) for p in paths]


def dev_set(data: Path) -> list[Recording]:
    """split=dev as recorded."""
    names = [p.stem for p in sorted((Path(data) / DEV_FOLDER).glob("*.flac"))]  # its order
    dev = evaluate_dev_set(Path(data))
    return [Recording(n, x, y) for n, x, y in zip(names, dev.signals, dev.labels, strict=True)]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def mix(speech: Recording, noise: np.ndarray, snr_db: float, offset: int) -> Recording:
    """`speech` with `noise` (looped from sample `offset`) added at `snr_db` dB, where the speech
    level is measured over its labelled speech windows only; clipped to [-1, 1]."""
    bed = np.resize(np.roll(noise, -offset), len(speech.samples))
    window = WINDOW_SAMPLES[RATE]
    voiced = np.repeat(speech.labels >= 0.5, window)[: len(speech.samples)]
    level = _rms(speech.samples[voiced]) if voiced.any() else _rms(speech.samples)
    gain = level / _rms(bed) * 10.0 ** (-snr_db / 20.0)
    mixed = np.clip(speech.samples + gain * bed, -1.0, 1.0).astype(np.float32)
    return Recording(f"{speech.name}@{snr_db:g}dB", mixed, speech.labels)


def noisy_sets(dev: list[Recording], noises: list[tuple[str, np.ndarray]]) -> dict[str, list]:
    """{"dev@SNR": recordings} for every SNR band: recording i gets noise bed i (mod count)."""
    beds = [x for _, x in noises if len(x) >= MIN_LOOP_S * RATE]
    rng = np.random.default_rng(SEED)
    offsets = [int(rng.integers(len(beds[i % len(beds)]))) for i in range(len(dev))]
    return {
        f"dev@{snr:g}dB": [
            mix(rec, beds[i % len(beds)], snr, offsets[i]) for i, rec in enumerate(dev)
        ]
        for snr in SNR_BANDS_DB
    }


def noise_only_set(noises: list[tuple[str, np.ndarray]]) -> list[Recording]:
    """Each unseen noise/music file at peak `NOISE_PEAK`, labelled all non-speech."""
    window = WINDOW_SAMPLES[RATE]
    out = []
    for path, x in noises:
        x = (x / (np.abs(x).max() + 1e-9) * NOISE_PEAK).astype(np.float32)
        out.append(Recording(Path(path).stem, x, np.zeros(-(-len(x) // window), np.float32)))
    return out


def benchmark_sets(data: Path, noisy: bool = True) -> dict[str, list[Recording]]:
    """{"dev": …, "dev@20dB": …, …, "noise-only": …} (see the module docstring)."""
    dev = dev_set(data)
    if not noisy:
        return {"dev": dev}
    noises = unseen_noises(data)
    return {"dev": dev, **noisy_sets(dev, noises), "noise-only": noise_only_set(noises)}
