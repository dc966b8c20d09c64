"""`python -m bench`: run the benchmarks and write BENCHMARKS.md (plots in docs/bench/)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bench.common import Context, Section

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = [
    "streaming",
    "wholefile",
    "decode",
    "upload",
    "streams",
    "live",
    "memory",
    "growth",
    "scaleout",
    "profile",
    "preset_tuning",
]


def run_sections(ctx: Context, names: list[str]) -> None:
    """Run the named sections, saving each one's result next to its plots (NAME.json), so that
    `--only NAME` refreshes one section of BENCHMARKS.md and keeps the others."""
    for name in names:
        start = time.perf_counter()
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        section = importlib.import_module(f"bench.{name}").run(ctx)
        record = {**asdict(section), "figures": [Path(f).name for f in section.figures]}
        ctx.plot_path(f"{name}.json").write_text(json.dumps(record, indent=1, default=float))
        print(f"bench: {name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr)


def saved_sections(plots: Path) -> list[Section]:
    """Every section with a saved result, in the report's order."""
    out = []
    for name in SECTIONS:
        path = plots / f"{name}.json"
        if path.is_file():
            record = json.loads(path.read_text())
            record["figures"] = [plots / f for f in record["figures"]]
            out.append(Section(**record))
    return out


def render(sections: list[Section], ctx: Context, doc: Path) -> str:
    """BENCHMARKS.md: machine line, then one numbered section per benchmark with its plots."""
    parts = [
        "# Benchmarks\n",
        "Written by `make bench` (`python -m bench`). Every speed figure is a ratio against peer "
        "VADs measured in the same run, on the same audio, on one core: the absolute numbers "
        "depend on the machine and its load, the ratios much less.\n",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (load average "
        f"{os.getloadavg()[1]:.1f} over the last 5 min when written), Python "
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
    run_sections(ctx, names)
    out.write_text(render(saved_sections(ctx.plots), ctx, out))
    print(f"bench: wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
