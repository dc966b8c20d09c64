"""The fixed benchmark: real dev recordings, noise at the stated SNR, the one-command table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classrec.lab import benchmark
from classrec.labels import read_labels, window_labels


@pytest.fixture(scope="module")
def sets(corpus: Path) -> dict:
    return benchmark.benchmark_sets(corpus)


def _db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


def test_noise_is_added_at_the_stated_snr(sets: dict) -> None:
    dev = sets["dev"]
    assert len(dev) == 32 and all((r.labels >= 0.5).any() for r in dev)
    for snr in benchmark.SNR_BANDS_DB:
        for clean, noisy in zip(dev[:5], sets[f"dev@{snr:g}dB"][:5], strict=True):
            voiced = np.repeat(clean.labels >= 0.5, 512)[: len(clean.samples)]
            noise = noisy.samples - clean.samples
            if np.abs(noisy.samples).max() < 1.0:  # not clipped
                measured = _db(clean.samples[voiced]) - _db(noise)
                assert measured == pytest.approx(snr, abs=0.01)
            assert np.array_equal(noisy.labels, clean.labels)


def test_noise_only_has_no_speech(sets: dict) -> None:
    noise = sets["noise-only"]
    assert len(noise) > 20 and sum(r.duration_s for r in noise) > 200
    assert all(not r.labels.any() for r in noise)
    assert all(np.abs(r.samples).max() == pytest.approx(benchmark.NOISE_PEAK) for r in noise)


def test_one_command_prints_the_threshold_table(capsys, corpus: Path) -> None:
    assert benchmark.main(["--data", str(corpus), "--thresholds", "auto,0.6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    sets = 1 + len(benchmark.SNR_BANDS_DB) + len(benchmark.ROOM_SNRS_DB) + 1
    assert len(lines) == 2 + 2 * sets
    noise_rows = [line for line in lines if line.startswith("| noise-only |")]
    assert [row.split("|")[3].strip() for row in noise_rows] == ["auto", "0.6"]


def test_room_recording_written_and_read_back(corpus: Path, tmp_path: Path) -> None:
    from classrec.audio import load_audio

    room = benchmark.room_recording(corpus, 5.0)
    path = benchmark.write_recording(room, tmp_path)
    audio = load_audio(path, 16000)
    assert len(audio) == len(room.samples) and np.abs(audio - room.samples).max() < 1e-4
    labels = window_labels(read_labels(path.with_suffix(".json")), len(room.labels))
    assert np.array_equal(labels >= 0.5, room.labels >= 0.5)
