"""Run the examples in README.md and check (or rewrite) the output they show.

    python docs/readme_examples.py            # check: exit 1 and a diff if an output is stale
    python docs/readme_examples.py --write    # rewrite the outputs shown (make readme)

Two kinds of example are run, in the order they appear, in one temporary folder that holds a copy
of tests/fixtures (what a fresh clone has), so an example may use files an earlier one wrote:

- shell: in a fenced block, a line `$ command` and the lines after it, up to the next `$` line or
  the end of the block, are the command and what it prints (stdout and stderr, as in a terminal);
- Python: in a fenced block, `>>> statement` (and `... ` continuation lines) and the lines after
  it are a statement and what the interactive interpreter prints for it.

The model is retrained from time to time; its numbers in the README then come from `--write`, and
tests/test_readme.py fails until they do.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
COPIED = ("tests/fixtures",)
"""Paths (relative to the project) the examples read; copied into the temporary folder."""
FENCE = re.compile(r"^```")
TIMEOUT_S = 120


@dataclass
class Example:
    """One command or statement: where its output lines are in the README, and what they say."""

    kind: str  # "shell" or "python"
    source: str
    first: int  # index of the first output line in the README's lines
    stop: int  # index after the last output line
    shown: list[str]


def examples(lines: list[str]) -> list[Example]:
    """The examples in the README's fenced blocks, in order."""
    found: list[Example] = []
    inside = False
    for i, line in enumerate(lines):
        if FENCE.match(line):
            inside = not inside
        elif inside and line.startswith(("$ ", ">>> ")):
            kind = "shell" if line.startswith("$ ") else "python"
            source = line[2:] if kind == "shell" else line[4:]
            j = i + 1
            while kind == "python" and lines[j].startswith("... "):
                source += "\n" + lines[j][4:]
                j += 1
            stop = j
            while not FENCE.match(lines[stop]) and not lines[stop].startswith(("$ ", ">>> ")):
                stop += 1
            found.append(Example(kind, source, j, stop, lines[j:stop]))
    return found


def run_shell(command: str, folder: Path) -> str:
    """What `command` prints in a terminal (stdout and stderr interleaved), run by bash in
    `folder` with this Python's scripts (the `classrec` command) first on PATH."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return done.stdout


def run_python(source: str, namespace: dict) -> str:
    """What the interactive interpreter prints for `source`: a statement's repr, or a traceback
    shortened as doctest writes it (so `python -m doctest README.md` agrees)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            exec(compile(source, "<README.md>", "single"), namespace)  # noqa: S102 - the README's own examples
        except Exception:  # noqa: BLE001 - shown as the interpreter shows it
            print("Traceback (most recent call last):\n  ...")
            print(traceback.format_exc().strip().splitlines()[-1])
    return out.getvalue()


def outputs(found: list[Example], folder: Path) -> list[list[str]]:
    """The output lines each example prints now, run in order in `folder`."""
    namespace: dict = {"__name__": "__readme__"}
    results = []
    cwd = Path.cwd()
    os.chdir(folder)  # Python examples open files relative to the clone, as a user's would
    try:
        for example in found:
            if example.kind == "shell":
                text = run_shell(example.source, folder)
            else:
                text = run_python(example.source, namespace)
            results.append([line.rstrip() for line in text.rstrip("\n").splitlines()])
    finally:
        os.chdir(cwd)
    return results


def render(lines: list[str], found: list[Example], printed: list[list[str]]) -> list[str]:
    """The README's lines with each example's output replaced by what it printed."""
    out, at = [], 0
    for example, new in zip(found, printed, strict=True):
        out += lines[at : example.first] + new
        at = example.stop
    return out + lines[at:]


def regenerate(readme: Path = README) -> tuple[str, str]:
    """(the README as it is, the README with the outputs its examples print now)."""
    text = readme.read_text()
    lines = text.splitlines()
    found = examples(lines)
    with tempfile.TemporaryDirectory(prefix="readme-") as tmp:
        folder = Path(tmp)
        for name in COPIED:
            shutil.copytree(readme.parent / name, folder / name)
        printed = outputs(found, folder)
    return text, "\n".join(render(lines, found, printed)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite README.md's outputs")
    args = parser.parse_args(argv)
    old, new = regenerate()
    if new == old:
        print("README.md: every example prints what it shows")
        return 0
    if args.write:
        README.write_text(new)
        print("README.md: outputs rewritten")
        return 0
    diff = difflib.unified_diff(
        old.splitlines(), new.splitlines(), "README.md", "README.md (run now)", lineterm=""
    )
    print("\n".join(diff))
    print("README.md: stale outputs (above); `make readme` rewrites them")
    return 1


if __name__ == "__main__":
    sys.exit(main())
