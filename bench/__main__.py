"""`python -m bench`: run the benchmarks and write BENCHMARKS.md (plots in docs/bench/)."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import Context, Section

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ["streaming", "wholefile", "streams", "live", "memory", "growth"]


def run_sections(ctx: Context, names: list[str]) -> list[Section]:
    """Run the named sections in order, printing progress to stderr."""
    out = []
    for name in names:
        start = time.perf_counter()
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        out.append(importlib.import_module(f"bench.{name}").run(ctx))
        print(f"bench: {name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return out


def render(sections: list[Section], ctx: Context, doc: Path) -> str:
    """BENCHMARKS.md: machine line, then one numbered section per benchmark with its plots."""
    parts = [
        "# Benchmarks\n",
        "Written by `make bench` (`python -m bench`). Every speed figure is a ratio against peer "
        "VADs measured in the same run, on the same audio, on one core: the absolute numbers "
        "depend on the machine and its load, the ratios much less.\n",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python "
        f"{platform.python_version()}, numpy {np.__version__}; run "
        f"{time.strftime('%Y-%m-%d')}{' (smoke sizes)' if ctx.quick else ''}.\n",
    ]
    for i, section in enumerate(sections, 1):
        parts.append(f"## {i}. {section.title}\n\n{section.body}\n")
        for fig in section.figures:
            rel = Path(fig).resolve().relative_to(doc.parent.resolve())
            parts.append(f"![{section.title}]({rel.as_posix()})\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--data", default="../shared/data", help="corpus folder (manifest.csv)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="markdown report")
    parser.add_argument("--plots", default=str(ROOT / "docs" / "bench"), help="PNG folder")
    parser.add_argument("--only", help=f"comma-separated sections ({','.join(SECTIONS)})")
    parser.add_argument("--quick", action="store_true", help="smoke sizes (seconds, not minutes)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else SECTIONS
    if unknown := set(names) - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    out = Path(args.out)
    ctx = Context(data=Path(args.data), plots=Path(args.plots), quick=args.quick)
    sections = run_sections(ctx, names)
    out.write_text(render(sections, ctx, out))
    print(f"bench: wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
