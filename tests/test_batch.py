"""classrec.batch without argparse: where outputs go, files in parallel processes, one error line
per bad file while the others are written, outputs equal to the one-file library path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import LECTURE

from classrec.batch import DetectSettings, Job, detect_job, detect_worker, plan_jobs, run_batch
from classrec.errors import ClassRecError
from classrec.outputs import format_segments
from classrec.pipeline import detect_file
from classrec.segments import VadOptions

NOISE = LECTURE.with_name("noise.flac")


def _folder(tmp_path: Path, encoded: dict[str, Path]) -> Path:
    """in/lecture.flac, in/sub/lecture.wav, in/sub/lecture.mp3 (same stem), in/notes.txt."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    os.link(LECTURE, folder / "lecture.flac")
    for name in ("wav", "mp3"):
        os.link(encoded[name], folder / "sub" / encoded[name].name)
    (folder / "notes.txt").write_text("not media: not planned")
    return folder


def test_plan_mirrors_folders_and_keeps_clashing_names_apart(tmp_path: Path, encoded) -> None:
    folder = _folder(tmp_path, encoded)
    jobs = plan_jobs([str(folder)], str(tmp_path / "out"), ".rttm")
    planned = {j.source.relative_to(folder).as_posix(): j.dest for j in jobs}
    out = tmp_path / "out"
    assert planned == {
        "lecture.flac": out / "lecture.rttm",
        "sub/lecture.mp3": out / "sub" / "lecture.mp3.rttm",
        "sub/lecture.wav": out / "sub" / "lecture.wav.rttm",
    }


def test_plan_one_file(tmp_path: Path) -> None:
    assert plan_jobs([str(LECTURE)], None, ".json") == [Job(LECTURE, None)]
    assert plan_jobs([str(LECTURE)], "x.srt", ".srt") == [Job(LECTURE, Path("x.srt"))]
    (tmp_path / "out").mkdir()  # an existing folder: the file goes inside
    assert plan_jobs([str(LECTURE)], str(tmp_path / "out"), ".srt") == [
        Job(LECTURE, tmp_path / "out" / "lecture.srt")
    ]


@pytest.mark.parametrize(
    ("inputs", "output", "message"),
    [
        ([str(LECTURE), str(NOISE)], None, "several input files: give an output folder"),
        (["-", str(LECTURE)], "out", "- (standard input) must be the only input"),
        (["missing.flac"], None, "missing.flac: no such file or folder"),
    ],
)
def test_plan_refuses_in_one_line(inputs: list[str], output: str | None, message: str) -> None:
    with pytest.raises(ClassRecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_jobs(inputs, output, ".json")


def test_run_batch_writes_what_the_library_finds(tmp_path: Path, encoded) -> None:
    folder = _folder(tmp_path, encoded)
    (folder / "broken.wav").write_text("not audio")
    options = VadOptions(threshold=0.6, pad_before_ms=100, pad_after_ms=50)
    jobs = plan_jobs([str(folder)], str(tmp_path / "out"), ".csv")
    seen: list[str] = []

    errors = run_batch(jobs, DetectSettings("csv", options), workers=2, on_error=seen.append)

    assert len(errors) == 1 and errors == seen
    assert errors[0].startswith(f"{folder / 'broken.wav'}: not a readable audio/video file")
    written = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
    )
    assert written == ["lecture.csv", "sub", "sub/lecture.mp3.csv", "sub/lecture.wav.csv"]
    for job in jobs:
        if job.source.name != "broken.wav":
            segments = detect_file(job.source, options)[0]
            assert segments, job.source  # the lecture has speech: the comparison means something
            assert job.dest.read_text() == format_segments(segments, "csv", job.source.name)


def test_existing_outputs_are_errors_unless_forced(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "lecture.json"
    dest.parent.mkdir()
    dest.write_text("kept")
    jobs = [Job(LECTURE, dest), Job(NOISE, tmp_path / "out" / "noise.json")]
    assert run_batch(jobs, workers=1) == [f"{dest}: already exists; use --force to overwrite"]
    assert dest.read_text() == "kept" and (tmp_path / "out" / "noise.json").exists()
    assert run_batch(jobs, DetectSettings(force=True), workers=1) == []
    assert dest.read_text() == format_segments(detect_file(LECTURE)[0], "json", LECTURE.name)


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file, not a folder")
    jobs = [Job(LECTURE, tmp_path / "file" / "a.json"), Job(NOISE, tmp_path / "file" / "b.json")]
    with pytest.raises(ClassRecError, match="cannot create the output folder"):
        run_batch(jobs)


def test_worker_returns_errors_instead_of_raising(tmp_path: Path, bad_files) -> None:
    settings = DetectSettings()
    bad = bad_files["text.wav"]
    assert detect_worker(Job(bad, tmp_path / "bad.json"), settings).startswith(f"{bad}: ")
    assert detect_worker(Job(LECTURE, tmp_path / "ok.json"), settings) is None
    assert (tmp_path / "ok.json").read_text() == detect_job(Job(LECTURE, None), settings)
