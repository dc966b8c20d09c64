"""`classrec tune` and presets: search on real labelled audio, the preset file, --preset."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers import FIXTURES

from classrec.cli import main
from classrec.errors import ClassRecError
from classrec.outputs import parse_segments
from classrec.pipeline import detect_file
from classrec.presets import load_preset, preset_json
from classrec.segments import VadOptions
from classrec.tune import load_sample, score, search, split_samples

LECTURE, LABELS = FIXTURES / "lecture.flac", FIXTURES / "lecture.json"


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def lecture_sample():
    return load_sample(LABELS, LECTURE)


def test_search_beats_or_matches_the_defaults(lecture_sample) -> None:
    tried = search([lecture_sample])
    best, counts = tried[0]
    defaults = score([lecture_sample], VadOptions())
    assert counts.frame_f1 >= defaults.frame_f1
    assert counts.frame_f1 == max(c.frame_f1 for _, c in tried)
    assert len(tried) > 900 and best != VadOptions()


def test_false_alarm_budget_is_kept(lecture_sample) -> None:
    best, counts = search([lecture_sample], "segment_f1", max_false_alarms=0.0)[0]
    assert counts.false_alarms == 0
    assert counts.segment_f1 == 1.0  # both utterances, one segment each


def test_holdout_split_at_a_time_across_files(corpus: Path) -> None:
    rttm, audio = corpus / "meetings/ami/train.rttm", corpus / "meetings/ami"
    samples = [load_sample(rttm, audio / f"trn0{i}.flac") for i in (1, 2, 3)]
    tune, held = split_samples(samples, 45.0)
    assert [s.duration_s for s in tune] == pytest.approx([30.0, 15.008], abs=0.02)
    assert [s.duration_s for s in held] == pytest.approx([14.992, 30.0], abs=0.02)
    assert sum(len(s.probs) for s in tune + held) == sum(len(s.probs) for s in samples)


def test_cli_writes_a_preset_that_detect_uses(capsys, tmp_path: Path) -> None:
    preset = tmp_path / "room.json"
    code, out, err = run(capsys, "tune", LABELS, LECTURE, "-o", preset, "--top", "3")
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 3 + 1  # header, top 3, defaults
    options = VadOptions(**load_preset(preset))
    saved = json.loads(preset.read_text())
    assert saved["tuned_on"] == ["lecture.flac"] and saved["objective"] == "frame_f1"
    code, out, err = run(capsys, "detect", LECTURE, "--preset", preset)
    assert code == 0, err
    want = detect_file(LECTURE, options)[0]
    assert parse_segments(out, "json") == [type(s)(**s.as_dict()) for s in want]


def test_options_after_the_preset_override_it(capsys, tmp_path: Path) -> None:
    preset = tmp_path / "p.json"
    preset.write_text(preset_json(VadOptions(threshold=0.3, pad_before_ms=0, pad_after_ms=0)))
    code, out, _ = run(capsys, "detect", LECTURE, "--preset", preset, "--pad-after-ms", "500")
    assert code == 0
    want = detect_file(LECTURE, VadOptions(threshold=0.3, pad_before_ms=0, pad_after_ms=500))[0]
    assert parse_segments(out, "json") == [type(s)(**s.as_dict()) for s in want]


def test_speech_only_takes_a_preset(capsys, tmp_path: Path) -> None:
    preset = tmp_path / "p.json"
    preset.write_text(preset_json(VadOptions(threshold="auto", min_silence_ms=300)))
    out = tmp_path / "short.flac"
    code, _, err = run(capsys, "speech-only", LECTURE, out, "--preset", preset)
    assert code == 0, err
    assert out.stat().st_size > 0


def test_holdout_scores_the_rest(capsys, corpus: Path) -> None:
    ami = corpus / "meetings/ami"
    code, out, err = run(
        capsys, "tune", ami / "train.rttm", ami / "trn01.flac", ami / "trn02.flac",
        "--holdout-from", "30", "--top", "1",
    )  # fmt: skip
    assert code == 0, err
    head, _, best, defaults = out.splitlines()[1:5]
    assert "held-out frame F1" in head and best.startswith("| 1 ")
    held = load_sample(ami / "train.rttm", ami / "trn02.flac")
    cells = [c.strip() for c in defaults.split("|")]
    assert float(cells[-4]) == pytest.approx(score([held], VadOptions()).frame_f1, abs=5e-4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tune", LABELS, LECTURE, LECTURE], "several recordings need one RTTM"),
        (["tune", FIXTURES / "README.md", LECTURE], "unknown label format"),
        (["tune", LABELS, FIXTURES / "noise.flac"], "labels run to 8.7 s but"),
        (["tune", LABELS, LECTURE, "--holdout-from", "60"], "leaves nothing on one side"),
    ],
)
def test_cli_errors_are_one_line(capsys, args: list, message: str) -> None:
    code, out, err = run(capsys, *args)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1


def test_bad_presets(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    for text, message in [
        ("{", "cannot read preset"),
        ('{"options": {}}', "not a classrec preset"),
        ('{"classrec_preset": 1, "options": {"thresh": 0.5}}', "unknown options thresh"),
        ('{"classrec_preset": 1, "options": {"threshold": 2}}', "threshold must be between"),
    ]:
        bad.write_text(text)
        with pytest.raises(ClassRecError, match=message):
            load_preset(bad)
        with pytest.raises(SystemExit) as exc:
            main(["detect", str(LECTURE), "--preset", str(bad)])
        assert exc.value.code == 2 and message in capsys.readouterr().err


def test_preset_leaves_out_infinity() -> None:
    text = preset_json(VadOptions())
    assert "Infinity" not in text and math.isinf(
        VadOptions(**json.loads(text)["options"]).max_speech_s
    )
