"""Scale-out: `classrec detect --engine ray` against the local serial run on the same files."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import Context, Section, table
from bench.memory import write_flac
from classrec.batch import DetectSettings, Job, detect_worker
from classrec.errors import ClassRecError

FILES, MINUTES, WORKERS = 8, 2.0, 2


def _jobs(src: Path, out: Path) -> list[Job]:
    out.mkdir()
    return [Job(f, out / f"{f.stem}.json") for f in sorted(src.glob("*.flac"))]


def run(ctx: Context) -> Section:
    try:
        from classrec import engine_ray

        engine_ray._ray()
    except ClassRecError as exc:
        return Section("Scale-out with Ray", f"Not measured: {exc}")
    files, minutes = (2, 0.1) if ctx.quick else (FILES, MINUTES)
    settings = [DetectSettings(force=True)]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        for i in range(files):
            write_flac(src / f"f{i}.flac", ctx.recording[i * 16000 * 7 :], minutes * 60)
        start = time.perf_counter()
        for job in _jobs(src, Path(tmp) / "serial"):
            detect_worker(job, *settings)
        serial = time.perf_counter() - start
        start = time.perf_counter()
        engine_ray.connect(None, WORKERS)
        init = time.perf_counter() - start
        list(engine_ray.run_tasks(detect_worker, _jobs(src, Path(tmp) / "warm"), settings))
        start = time.perf_counter()
        list(engine_ray.run_tasks(detect_worker, _jobs(src, Path(tmp) / "ray"), settings))
        ray_s = time.perf_counter() - start
        same = all(
            (Path(tmp) / "ray" / f.name).read_bytes() == f.read_bytes()
            for f in (Path(tmp) / "serial").iterdir()
        )
    rows = [
        ["local, one process", f"{serial:.2f}", "1.00×"],
        [f"Ray, {WORKERS} local workers (warm)", f"{ray_s:.2f}", f"{serial / ray_s:.2f}×"],
    ]
    body = (
        f"{files} files × {minutes:g} min; outputs identical to the local run: {same}. "
        f"Starting the local Ray runtime took {init:.1f} s more (once per command).\n\n"
        + table(["engine", "s", "speed-up"], rows)
    )
    return Section("Scale-out with Ray", body, [], {"speedup": serial / ray_s, "same": same})
