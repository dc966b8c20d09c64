"""The `classrec` command: every format in, every format out, every bad input one clear line."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import BAD, ENCODINGS, FOUND_S, LECTURE, assert_matches_regions, ffmpeg
from threadpoolctl import threadpool_info

from classrec.audio import iter_blocks, probe_duration
from classrec.cli import COMMANDS, build_parser, main, register
from classrec.outputs import FORMATS, parse_segments
from classrec.pipeline import detect_file, file_probabilities
from classrec.progress import seconds_bar
from classrec.segments import Segment

REGIONS = json.loads((LECTURE.parent / "lecture.json").read_text())["speech"]
EXPECTED = detect_file(LECTURE)[0]


def run(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_detect_every_input_format(capsys, encoded: dict[str, Path], name: str) -> None:
    code, out, err = run(capsys, "detect", encoded[name])
    assert code == 0, err
    found = parse_segments(out, "json")
    assert found == [Segment(**s.as_dict()) for s in detect_file(encoded[name])[0]]
    assert found, "no speech found"


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_codecs_do_not_change_what_is_found(encoded: dict[str, Path], name: str) -> None:
    assert_matches_regions(detect_file(encoded[name])[0], REGIONS, FOUND_S)


@pytest.mark.parametrize("fmt", FORMATS)
def test_detect_every_output_format(capsys, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"lecture.{fmt}"
    code, _, err = run(capsys, "detect", LECTURE, "--format", fmt, "-o", out)
    assert code == 0 and err == ""
    found = parse_segments(out.read_text(), fmt)
    assert len(found) == len(EXPECTED)
    for got, want in zip(found, EXPECTED, strict=True):  # as the library says, to the ms
        assert abs(got.start - want.start) <= 5e-4 and abs(got.end - want.end) <= 5e-4


def test_existing_output_needs_force(capsys, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("precious")
    code, _, err = run(capsys, "detect", LECTURE, "-o", out)
    assert code == 1 and "already exists; use --force" in err and out.read_text() == "precious"
    assert run(capsys, "detect", LECTURE, "-o", out, "--force")[0] == 0
    assert json.loads(out.read_text())["file"] == "lecture.flac"


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_one_line_nonzero(capsys, bad_files: dict[str, Path], name: str) -> None:
    code, out, err = run(capsys, "detect", bad_files[name])
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("classrec: error: ") and BAD[name] in err


def test_unwritable_output(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "detect", LECTURE, "-o", tmp_path / "missing" / "x.json")
    assert code == 1 and "does not exist" in err
    code, _, err = run(capsys, "probs", LECTURE, "-o", LECTURE.parent)
    assert code == 1 and "is a folder" in err


def test_folder_with_a_bad_file_processes_the_rest(capsys, tmp_path: Path, encoded) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "broken.wav").write_text("not audio")
    for name in ("wav", "mp3"):
        os.link(encoded[name], folder / "sub" / encoded[name].name)
    code, _, err = run(
        capsys, "detect", folder, "--format", "rttm", "-o", tmp_path / "out", "--jobs", "2"
    )
    assert code == 1
    assert "broken.wav: not a readable audio/video file" in err and "1 of 3 files failed" in err
    produced = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.rttm")
    )
    assert produced == ["sub/lecture.mp3.rttm", "sub/lecture.wav.rttm"]  # same stem: full names
    assert "Traceback" not in err


@pytest.mark.parametrize("given", ["folder", "file with -o DIR/"])
def test_one_file_into_a_new_output_folder(capsys, tmp_path: Path, given: str) -> None:
    """The output folder is made for one file as for several (it said "folder out does not
    exist" when the input folder held one file)."""
    (tmp_path / "in").mkdir()
    os.link(LECTURE, tmp_path / "in" / "lecture.flac")
    if given == "folder":
        source, output = tmp_path / "in", str(tmp_path / "out")
    else:
        source, output = tmp_path / "in" / "lecture.flac", f"{tmp_path / 'out'}{os.sep}"
    code, out, err = run(capsys, "detect", source, "-o", output)
    assert (code, out, err) == (0, "", "")
    written = parse_segments((tmp_path / "out" / "lecture.json").read_text(), "json")
    assert written == [Segment(**s.as_dict()) for s in EXPECTED]


def test_several_inputs_need_an_output_folder(capsys) -> None:
    code, _, err = run(capsys, "detect", LECTURE, LECTURE.parent / "noise.flac")
    assert code == 1 and "-o FOLDER" in err


def test_probs_csv(capsys, tmp_path: Path) -> None:
    out = tmp_path / "probs.csv"
    assert run(capsys, "probs", LECTURE, "-o", out)[0] == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "start,end,probability" and len(lines) == 311


def test_speech_only_cli(capsys, tmp_path: Path) -> None:
    out = tmp_path / "short.opus"
    code, _, err = run(capsys, "speech-only", LECTURE, out, "--pad-before-ms", "50")
    assert code == 0 and "kept" in err
    assert (
        out.is_file()
        and out.with_suffix(".edl").is_file()
        and out.with_suffix(".cuts.json").is_file()
    )


def test_help_everywhere_has_examples(capsys) -> None:
    commands = ["detect", "probs", "speech-only", "plot"]
    assert set(commands) <= set(build_parser()._subparsers._group_actions[0].choices)
    for name in ["", *commands]:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"] if name else ["--help"])
        assert exit_info.value.code == 0 and "examples:" in capsys.readouterr().out


def test_debug_shows_the_traceback(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "detect", tmp_path / "nope.wav", "--debug")
    assert (
        code == 1
        and "Traceback" in err
        and err.rstrip().endswith("nope.wav: no such file or folder")
    )


@pytest.mark.slow
def test_ctrl_c_leaves_no_partial_output(tmp_path: Path) -> None:
    """Deterministic however fast decoding is: the input comes through a pipe this test holds
    open, so the command is still decoding when Ctrl-C arrives; then the pipe is closed."""
    long = tmp_path / "long.flac"
    ffmpeg("-stream_loop", "11", "-i", LECTURE, long)  # 2 minutes, 1.9 MB
    data = long.read_bytes()
    out = tmp_path / "out" / "long.csv"
    out.parent.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "classrec", "probs", "-", "-o", str(out)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert len(data) // 2 > 4 * 65536  # more than a pipe holds: returns once the command reads
    proc.stdin.write(data[: len(data) // 2])
    proc.stdin.flush()
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.stdin.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 130 and "interrupted" in err and "Traceback" not in err
    assert list(out.parent.iterdir()) == []


def test_jobs_must_be_positive(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["detect", str(LECTURE), "--jobs", "0"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--jobs: must be a whole number >= 1, got '0'" in err


def test_missing_input_folder_is_named_missing(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "detect", tmp_path / "recordings", "-o", tmp_path / "out")
    assert (
        code == 1 and err == f"classrec: error: {tmp_path / 'recordings'}: no such file or folder\n"
    )


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_output_the_file_system_refuses_is_one_line(capsys) -> None:
    """/proc passes permission checks (as root too) but refuses new files: found before the work,
    said plainly."""
    code, _, err = run(capsys, "detect", LECTURE, "-o", "/proc/out.json")
    assert code == 1 and err.startswith("classrec: error: /proc/out.json: cannot write there (")
    assert err.count("\n") == 1 and "Error" not in err


def test_output_type_and_range_checked_before_decoding(capsys, tmp_path, bad_files) -> None:
    broken = bad_files["text.wav"]  # decoding fails: each message shows its check came first
    code, _, err = run(capsys, "speech-only", broken, tmp_path / "out.xyz")
    assert code == 1 and "out.xyz: cannot write audio in a '.xyz' file" in err
    code, _, err = run(capsys, "plot", broken, "-o", tmp_path / "plot.xyz")
    assert code == 1 and "plot.xyz: cannot draw that file type; use one of" in err and ".png" in err
    code, _, err = run(
        capsys, "plot", broken, "-o", tmp_path / "p.png", "--start", "5", "--end", "2"
    )
    assert code == 1 and "--start/--end: need 0 <= start < end" in err
    code, _, err = run(capsys, "plot", LECTURE, "-o", tmp_path / "p.png", "--start", "20")
    assert code == 1 and "--start 20.0: the file ends at 9.9 s" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("module", "argv", "extra"),
    [
        ("scipy", "['evaluate', '--data', '.']", "peers"),
        ("matplotlib", f"['plot', {str(LECTURE)!r}, '-o', 'never.png']", "plot"),
    ],
)
def test_base_install_names_the_extra(tmp_path: Path, module: str, argv: str, extra: str) -> None:
    """A base install has neither scipy nor matplotlib; `sys.modules[name] = None` makes
    importing one fail as it does there."""
    code = (
        f"import sys; sys.modules[{module!r}] = None; from classrec.cli import main; "
        f"sys.exit(main({argv}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    command = argv.split("'")[1]
    assert done.returncode == 1
    assert done.stderr == (
        f"classrec: error: {command} needs {module}: pip install 'classrec[{extra}]'\n"
    )


def test_dash_reads_standard_input() -> None:
    with LECTURE.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "classrec", "detect", "-", "--format", "json"],
            stdin=stdin,
            capture_output=True,
            text=True,
        )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["file"] == "stdin"
    assert parse_segments(done.stdout, "json") == [Segment(**s.as_dict()) for s in EXPECTED]


def test_progress_never_shows_a_negative_eta() -> None:
    """The header's duration can be short of what decodes (`[00:19<-00:00]` before)."""
    out = io.StringIO()
    bar, advance = seconds_bar(probe_duration(LECTURE) - 0.5, "lecture", out)
    for block in iter_blocks(LECTURE, 16000, block_samples=1600):
        advance(len(block) / 16000)
    bar.close()
    shown = out.getvalue()
    assert "<-" not in shown and "10/10 s" in shown


def _blas_threads() -> int:
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_commands_run_with_one_blas_thread(capsys) -> None:
    """Extra BLAS threads only spin on the detector's small products (a 1-hour file: 3.4 s of
    model CPU with 2 threads on a busy 2-core machine, 0.6 s with 1). A command registered the
    way plugins are sees the limit; it is lifted after."""
    before, seen = _blas_threads(), []

    def probe(args) -> int:  # the detector runs here, as in detect
        seen.append((_blas_threads(), detect_file(LECTURE)[0]))
        return 0

    def add_probe_parser(sub) -> None:
        sub.add_parser("blas-probe").set_defaults(run=probe)

    register(add_probe_parser)
    try:
        assert main(["blas-probe"]) == 0
    finally:
        COMMANDS.remove(add_probe_parser)
    assert seen == [(1, EXPECTED)] and _blas_threads() == before


def test_probs_classes_writes_speech_music_noise_columns(tmp_path):
    out = tmp_path / "classes.csv"
    assert main(["probs", str(LECTURE), "--classes", "-o", str(out)]) == 0
    rows = out.read_text().splitlines()
    assert rows[0] == "start,end,speech,music,noise" and len(rows) == 311
    values = np.array([[float(v) for v in r.split(",")[2:]] for r in rows[1:]])
    assert ((values >= 0) & (values <= 1)).all()
    speech, _ = file_probabilities(LECTURE)
    np.testing.assert_allclose(values[:, 0], speech, atol=1e-5)
