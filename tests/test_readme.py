"""README.md's examples print what it shows (docs/readme_examples.py runs them)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "readme_examples.py"


def load_script():
    spec = importlib.util.spec_from_file_location("readme_examples", SCRIPT)
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # for dataclasses
    spec.loader.exec_module(module)
    return module


def test_readme_examples_print_what_they_show() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr  # the diff; `make readme` fixes it


def test_a_stale_output_is_found_and_rewritten(tmp_path: Path) -> None:
    script = load_script()
    lines = [
        "```",
        "$ echo one; echo two >&2; echo three > three.txt",
        "one",
        "$ cat three.txt",
        "3",
        "```",
        "```python",
        ">>> total = 0",
        ">>> for i in range(3):",
        "...     total += i",
        ">>> total",
        "0",
        ">>> int('x')",
        "```",
    ]
    found = script.examples(lines)
    assert [e.kind for e in found] == ["shell", "shell", "python", "python", "python", "python"]
    assert [e.shown for e in found][:2] == [["one"], ["3"]]
    printed = script.outputs(found, tmp_path)
    assert printed[:2] == [["one", "two"], ["three"]]  # stderr too, files kept between examples
    assert printed[4] == ["3"]
    assert printed[5][-1] == "ValueError: invalid literal for int() with base 10: 'x'"
    fixed = script.render(lines, found, printed)
    assert fixed[1:5] == [
        "$ echo one; echo two >&2; echo three > three.txt",
        "one",
        "two",
        "$ cat three.txt",
    ]
    assert script.outputs(script.examples(fixed), tmp_path) == printed
