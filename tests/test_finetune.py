"""`classrec finetune`: a few real training steps on the fixture, loadable weights, the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import FIXTURES

from classrec.audio import load_audio
from classrec.cli import main
from classrec.finetune import FinetuneConfig, make_batch, split_recordings, user_recordings
from classrec.model import Detector

pytest.importorskip("torch")
pytest.importorskip("onnx")
LECTURE, LABELS = FIXTURES / "lecture.flac", FIXTURES / "lecture.json"


def test_batches_are_whole_clips_with_their_labels() -> None:
    recs = user_recordings(LABELS, [LECTURE])
    noise = [load_audio(FIXTURES / "noise.flac", 16000)]
    cfg = FinetuneConfig(batch=6, clip_s=2.0, noise_only_fraction=0.5)
    x, y = make_batch(np.random.default_rng(0), recs, noise, cfg)
    assert x.shape == (6, 62, 40) and y.shape == (6, 62)
    assert np.isfinite(x).all() and (y == 0).all(axis=1).any() and (y > 0.5).any()


def test_holdout_split_drops_nothing() -> None:
    recs = user_recordings(LABELS, [LECTURE])
    before, after = split_recordings(recs, 5.0)
    assert len(before[0].labels) + len(after[0].labels) == len(recs[0].labels)
    assert before[0].duration_s == pytest.approx(5.0, abs=0.032)


def test_finetune_writes_weights_onnx_and_card(capsys, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "room.npz"
    args = ["finetune", LABELS, LECTURE, "-o", out, "--steps", "5", "--dev-only", "--data", corpus]
    assert main([str(a) for a in args]) == 0
    printed, err = capsys.readouterr()
    assert "| yours | pr_auc |" in printed and "| dev | pr_auc |" in printed
    assert out.with_suffix(".md").read_text().count("| dev |") == 5
    new = Detector(16000, out, backend="onnxruntime")  # the ONNX matches the new weights
    audio = user_recordings(LABELS, [LECTURE])[0].samples
    p_new = new.probabilities(audio, sample_rate=16000)
    p_old = Detector().probabilities(audio, sample_rate=16000)
    assert not np.array_equal(p_new, p_old) and np.abs(p_new - p_old).max() < 0.5
    assert np.allclose(
        Detector(16000, out, backend="numpy").probabilities(audio, sample_rate=16000),
        p_new,
        atol=1e-4,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "x.pt"], "must end in .npz"),
        ([LECTURE, "-o", "x.npz"], "several recordings need one RTTM"),
        (["-o", "x.npz", "--holdout-from", "100"], "leaves nothing on one side"),
    ],
)
def test_errors_are_one_line(capsys, tmp_path: Path, monkeypatch, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["finetune", str(LABELS), str(LECTURE), *map(str, args)])
    err = capsys.readouterr().err
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
