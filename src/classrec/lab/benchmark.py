"""The fixed benchmark that segmentation options and model versions are judged on.

Built from the corpus (`--data`, default ../shared/data), the same every run (fixed seed):
  dev          split=dev: 32 real recordings labelled by people or forced alignment (quiet rooms)
  dev@SNR      the same recordings with a noise kept out of training added at SNR dB (20 … -5),
               the speech level measured over the labelled speech only
  room@SNR     the dev recordings one after another as one 6.7-minute recording, as recorded
               (room@infdB) and under one steady noise kept out of training (dishes) at 5 dB:
               long enough for threshold="auto" to settle
  noise-only   every noise and music file kept out of training, at a fixed peak level: no speech,
               so each detected segment is a false alarm

Labels are the fraction of each 32 ms window inside a labelled speech region (16 kHz).

    python -m classrec.lab.benchmark [--weights W.npz] [--thresholds auto,0.5,0.7]

prints the table that compares threshold="auto" with fixed thresholds (docs/cli.md);
`--write-room DIR` writes the dev set as one long recording under one noise instead (for tune).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classrec.audio import load_audio
from classrec.auto_threshold import AUTO
from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE, WINDOW_SAMPLES
from classrec.lab.evaluate import DEV_FOLDER
from classrec.lab.evaluate import dev_set as evaluate_dev_set
from classrec.model import Detector
from classrec.scoring import Counts, count
from classrec.segments import VadOptions, speech_segments

RATE = SAMPLE_RATE
SNR_BANDS_DB = (20, 10, 5, 0, -5)
SEED = 2024
NOISE_PEAK = 0.3
"""Peak level of the noise-only recordings (as in `classrec evaluate`)."""
ROOM_SNRS_DB = (math.inf, 5)
"""The long one-room recording as recorded (inf) and under ROOM_NOISE at 5 dB."""
ROOM_NOISE = "noise/pyroomacoustics-doing_the_dishes.flac"
"""The steady noise under the long 'room' recording (kept out of training)."""
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


def room_recording(data: Path, snr_db: float, noise: str = ROOM_NOISE) -> Recording:
    """All of split=dev one after another, under one steady noise at `snr_db` dB: a long
    recording in one room, for tuning on its first minutes and scoring the rest."""
    dev = dev_set(data)
    whole = [len(r.samples) // WINDOW_SAMPLES[RATE] for r in dev]  # whole windows of each
    samples = [r.samples[: n * WINDOW_SAMPLES[RATE]] for r, n in zip(dev, whole, strict=True)]
    labels = [r.labels[:n] for r, n in zip(dev, whole, strict=True)]
    room = Recording("room", np.concatenate(samples), np.concatenate(labels))
    if math.isinf(snr_db):
        return Recording("room@infdB", room.samples, room.labels)
    return mix(room, load_audio(Path(data) / noise, RATE), snr_db, 0)


def write_recording(rec: Recording, folder: Path) -> Path:
    """`rec` as FLAC (16 bit) with its speech regions as corpus-style JSON beside it."""
    import json

    import av

    from classrec.scoring import label_segments

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{rec.name}.flac"
    pcm = (np.clip(rec.samples, -1, 1) * 32767).astype(np.int16)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    regions = [[round(s.start, 3), round(s.end, 3)] for s in label_segments(rec.labels)]
    path.with_suffix(".json").write_text(json.dumps({"speech": regions}) + "\n")
    return path


def benchmark_sets(data: Path, noisy: bool = True) -> dict[str, list[Recording]]:
    """{"dev": …, "dev@20dB": …, …, "noise-only": …} (see the module docstring)."""
    dev = dev_set(data)
    if not noisy:
        return {"dev": dev}
    noises = unseen_noises(data)
    rooms = {f"room@{snr:g}dB": [room_recording(data, snr)] for snr in ROOM_SNRS_DB}
    return {
        "dev": dev,
        **noisy_sets(dev, noises),
        **rooms,
        "noise-only": noise_only_set(noises),
    }


# -- scoring segmentation options on the sets ----------------------------------------------------
@dataclass
class Scored:
    """A recording's probabilities (one per 32 ms window) beside its labels."""

    recording: Recording
    probs: np.ndarray


def score_sets(sets: dict[str, list[Recording]], detector) -> dict[str, list[Scored]]:
    """Each recording's probabilities from `detector`, fresh state per recording."""
    return {
        name: [Scored(rec, detector.probabilities(rec.samples, sample_rate=RATE)) for rec in recs]
        for name, recs in sets.items()
    }


def counts(scored: list[Scored], options) -> Counts:
    """Segment scores of `options` (VadOptions) summed over a set."""
    total = Counts()
    for s in scored:
        found = speech_segments(s.probs, options, duration_s=s.recording.duration_s)
        total += count(found, s.recording.labels, s.recording.duration_s)
    return total


def threshold_table(scored: dict[str, list[Scored]], thresholds: list) -> str:
    """Markdown table: frame F1, segment F1 and false alarms per hour for each set and threshold
    (the other options at their defaults)."""
    lines = [
        "| set | hours | threshold | frame F1 | segment F1 | false alarms / h |",
        "|---|---|---|---|---|---|",
    ]
    for name, recs in scored.items():
        hours = sum(s.recording.duration_s for s in recs) / 3600
        for thr in thresholds:
            c = counts(recs, VadOptions(threshold=thr))
            f1 = (f"{c.frame_f1:.3f}", f"{c.segment_f1:.3f}") if c.labelled else ("", "")
            lines.append(
                f"| {name} | {hours:.3f} | {thr} | {f1[0]} | {f1[1]} | "
                f"{c.false_alarms_per_hour:.0f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m classrec.lab.benchmark`: the threshold table for the shipped (or given) model."""
    parser = argparse.ArgumentParser(
        prog="python -m classrec.lab.benchmark",
        description=__doc__ + "\nPrints frame F1, segment F1 and false alarms per hour for "
        'threshold="auto" and fixed thresholds, other options at their defaults.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="corpus")
    parser.add_argument("--weights", type=Path, help="weights .npz (default: the shipped ones)")
    parser.add_argument(
        "--thresholds", default="auto,0.5", help="comma-separated (default: auto,0.5)"
    )
    parser.add_argument(
        "--write-room",
        type=Path,
        metavar="DIR",
        help="instead, write the long one-room recording (FLAC + JSON labels) into DIR",
    )
    parser.add_argument("--room-snr", type=float, default=5.0, help="its SNR in dB (5)")
    args = parser.parse_args(argv)
    if args.write_room:
        print(write_recording(room_recording(args.data, args.room_snr), args.write_room))
        return 0
    thresholds = [t if t == AUTO else float(t) for t in args.thresholds.split(",")]
    try:
        scored = score_sets(benchmark_sets(args.data), Detector(RATE, args.weights))
    except ClassRecError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    print(threshold_table(scored, thresholds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
