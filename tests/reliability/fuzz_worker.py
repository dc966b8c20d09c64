"""Child process for the decoder/CLI fuzzer: one JSON request per stdin line, one JSON answer per
stdout line.

Run in its own process so that a decoder crash (a segfault in FFmpeg) or a hang is caught by the
parent as exactly that, instead of taking the test run down with it.

Requests: {"mode": "decode" | "cli", "path": str, "out": str}. Answers: {"outcome": "ok" |
"error" | "unexpected", "detail": str, "samples": int}. "error" is a ClassRecError (decode) or a
non-zero exit with a one-line message (CLI); "unexpected" is anything else.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback

import numpy as np

from classrec.audio import iter_blocks
from classrec.cli import main as cli_main
from classrec.errors import ClassRecError


def decode(path: str) -> dict:
    """Stream the file (bounded memory even for hours of audio) and check every block."""
    samples = 0
    try:
        for block in iter_blocks(path, 16000):
            if block.dtype != np.float32 or block.ndim != 1 or not np.isfinite(block).all():
                return {"outcome": "unexpected", "detail": f"bad block {block.dtype}{block.shape}"}
            samples += len(block)
    except ClassRecError as exc:
        return {"outcome": "error", "detail": str(exc), "samples": samples}
    except Exception:  # noqa: BLE001 - exactly what the fuzzer is looking for
        return {"outcome": "unexpected", "detail": traceback.format_exc(), "samples": samples}
    return {"outcome": "ok", "detail": "", "samples": samples}


def cli(path: str, out: str) -> dict:
    """`classrec detect PATH -o OUT --force` in-process, with stderr captured."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli_main(["detect", path, "-o", out, "--force"])
        except BaseException:  # noqa: BLE001 - main() must not let anything out
            return {"outcome": "unexpected", "detail": traceback.format_exc()}
    text = err.getvalue().strip()
    lines = text.splitlines()
    if code == 0:
        return {"outcome": "ok", "detail": text}
    one_line = len(lines) == 1 and lines[0].startswith("classrec: error: ")
    clean = one_line and "Traceback" not in text and "--debug" not in text
    return {"outcome": "error" if clean else "unexpected", "detail": text}


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        if request["mode"] == "decode":
            answer = decode(request["path"])
        else:
            answer = cli(request["path"], request["out"])
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
