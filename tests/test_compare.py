"""`classrec compare-models`: real weights files on real labelled audio, deltas and warnings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import FIXTURES

from classrec.checkpoint import default_weights_path
from classrec.cli import main

LECTURE, LABELS = FIXTURES / "lecture.flac", FIXTURES / "lecture.json"


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def rows(out: str) -> dict[tuple[str, str], list[str]]:
    """{(set, metric): [A, B, delta, mark]} from the printed table."""
    found = {}
    for line in out.splitlines():
        if not line.startswith("| ") or line.startswith("| set |"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        found[(cells[0], cells[1])] = cells[2:]
    return found


@pytest.fixture(scope="module")
def deaf_weights(tmp_path_factory) -> Path:
    """The shipped weights with the output bias lowered by 6: a real model that misses speech
    (no ONNX file beside it, so it also runs the numpy path)."""
    with np.load(default_weights_path()) as data:
        weights = {k: data[k] for k in data.files}
    weights["head.bias"] = weights["head.bias"] - 6.0
    path = tmp_path_factory.mktemp("weights") / "deaf.npz"
    np.savez(path, **weights)
    return path


def test_a_model_against_itself_changes_nothing(capsys) -> None:
    code, out, err = run(
        capsys, "compare-models", "shipped", default_weights_path(),
        "--no-benchmark", "--labels", LABELS, "--audio", LECTURE, "--fail-on-worse",
    )  # fmt: skip
    assert code == 0 and "warning" not in err
    table = rows(out)
    assert set(metric for _, metric in table) >= {"pr_auc", "frame_f1", "false_alarms_per_hour"}
    for a, b, delta, mark in table.values():
        assert a == b and float(delta) == 0 and mark == ""


def test_a_worse_model_is_flagged(capsys, deaf_weights: Path) -> None:
    code, out, err = run(
        capsys, "compare-models", "shipped", deaf_weights,
        "--no-benchmark", "--labels", LABELS, "--audio", LECTURE, "--fail-on-worse",
    )  # fmt: skip
    assert code == 1
    a, b, delta, mark = rows(out)[("yours", "f1@0.5")]
    assert float(b) < float(a) and float(delta) < 0 and mark == "worse"
    assert "warning: B is worse on yours: f1@0.5" in err
    code, _, _ = run(
        capsys, "compare-models", deaf_weights, "shipped",
        "--no-benchmark", "--labels", LABELS, "--audio", LECTURE, "--fail-on-worse",
    )  # fmt: skip
    assert code == 0  # the other way round B is better


def test_dev_benchmark(capsys, corpus: Path) -> None:
    code, out, err = run(
        capsys, "compare-models", "shipped", "shipped", "--data", corpus, "--dev-only"
    )
    assert code == 0, err
    table = rows(out)
    assert {s for s, _ in table} == {"dev"} and len(table) == 5
    assert 0.5 < float(table[("dev", "pr_auc")][0]) <= 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.npz", "shipped"], "missing.npz: weights file not found"),
        (["shipped", "shipped", "--labels", LABELS], "--labels and --audio go together"),
        (["shipped", "shipped", "--no-benchmark"], "nothing to score"),
        (["shipped", LABELS, "--no-benchmark"], "not classrec weights"),
    ],
)
def test_errors_are_one_line(capsys, args: list, message: str) -> None:
    code, _, err = run(capsys, "compare-models", *args)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
