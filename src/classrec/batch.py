"""Many files in, one result file each: where every output goes, the files run in parallel
processes (or Ray tasks), a progress bar over the files, and a one-line error for each file
that failed while the others go on. `classrec detect` is argparse around this module.

    >>> from classrec.batch import DetectSettings, plan_jobs, run_batch
    >>> jobs = plan_jobs(["recordings/"], "out/", ".rttm")   # out/a.rttm, out/sub/b.rttm, ...
    >>> errors = run_batch(jobs, DetectSettings(format="rttm"), workers=4)
    >>> errors                                                # one line per failed file
    ['recordings/broken.wav: not a readable audio/video file ...']

Every file is written to a temporary name and renamed, so Ctrl-C (KeyboardInterrupt, which
`run_batch` lets through) leaves no partial output.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from classrec.audio import MEDIA_EXTENSIONS, STDIN
from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE
from classrec.outputs import check_writable, format_segments, write_atomic
from classrec.pipeline import detect_file, limit_blas_threads, shared_detector, source_name
from classrec.progress import file_progress, progress_bar
from classrec.segments import VadOptions


@dataclass(frozen=True)
class Job:
    """One input file and where its result goes (None: returned, for stdout)."""

    source: Path
    dest: Path | None


@dataclass(frozen=True)
class DetectSettings:
    """What every file of a batch gets: output format (`outputs.FORMATS`), segmentation, the
    model's rate (Hz) and whether existing outputs may be overwritten."""

    format: str = "json"
    options: VadOptions = VadOptions()  # noqa: RUF009 - frozen, so a shared default is safe
    sample_rate: int = SAMPLE_RATE
    force: bool = False


# -- planning ------------------------------------------------------------------------------------
def media_files(inputs: Sequence[str]) -> list[tuple[Path, Path]]:
    """(file, root) for every input: files as given, folders walked for media files (sorted).

    `root` is the folder an output path is made relative to."""
    found = []
    for name in inputs:
        path = Path(name)
        if name == STDIN:
            if len(inputs) > 1:
                raise ClassRecError("- (standard input) must be the only input")
            found.append((path, Path(".")))
        elif not path.exists():
            raise ClassRecError(f"{path}: no such file or folder")
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in MEDIA_EXTENSIONS)
            if not files:
                raise ClassRecError(f"{path}: folder contains no audio or video files")
            found += [(p, path) for p in files if p.is_file()]
        else:
            found.append((path, path.parent))
    return found


def plan_jobs(inputs: Sequence[str], output: str | None, suffix: str) -> list[Job]:
    """Map inputs to outputs: one file → `output` (or stdout); several → files in folder
    `output`, mirroring the folder layout below each input folder. `suffix` is the outputs'
    extension (".json")."""
    files = media_files(inputs)
    single = len(files) == 1 and not Path(inputs[0]).is_dir()
    if output is None:
        if not single:
            raise ClassRecError("several input files: give an output folder with -o FOLDER")
        return [Job(files[0][0], None)]
    out = Path(output)
    if single and not out.is_dir() and not output.endswith(os.sep):
        return [Job(files[0][0], out)]
    dests = [out / f.relative_to(root).with_suffix(suffix) for f, root in files]
    clash = {d for d, n in Counter(dests).items() if n > 1}  # talk.wav, talk.mp4 → talk.wav.json
    return [
        Job(f, d.with_name(f.name + suffix) if d in clash else d)
        for (f, _), d in zip(files, dests, strict=True)
    ]


# -- running -------------------------------------------------------------------------------------
def detect_job(job: Job, settings: DetectSettings, progress: bool = False) -> str | None:
    """Detect speech in one file and write its result to `job.dest` (None: return the text).

    The output is checked before the work, not after; `progress` draws a seconds bar."""
    if job.dest is not None:
        check_writable(job.dest, settings.force)
    rate = settings.sample_rate
    bar, on_block = file_progress(job.source, rate) if progress else (None, None)
    try:
        segments, _, _ = detect_file(
            job.source, settings.options, rate, shared_detector(rate), on_block
        )
    finally:
        if bar is not None:
            bar.close()
    text = format_segments(segments, settings.format, source_name(job.source))
    if job.dest is None:
        return text
    write_atomic(job.dest, text, settings.force)
    return None


_interrupted = False  # set in a worker process once Ctrl-C reached it


def detect_worker(job: Job, settings: DetectSettings) -> str | None:
    """Pool (and Ray task) entry point: the error message instead of an exception, so one bad
    file does not stop the others and tracebacks stay in the worker.

    Ctrl-C reaches the workers too: the file in progress is abandoned (its temporary output
    removed) and files already queued to this worker are skipped, so the command stops at once.
    """
    global _interrupted
    if _interrupted:
        return f"{job.source}: skipped (interrupted)"
    try:
        with limit_blas_threads():
            detect_job(job, settings)
    except KeyboardInterrupt:
        _interrupted = True
        return f"{job.source}: interrupted"
    except ClassRecError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the folder
        return f"{job.source}: {exc.__class__.__name__}: {exc}"
    return None


Engine = Literal["local", "ray"]


def _results(
    jobs: Sequence[Job],
    settings: DetectSettings,
    workers: int | None,
    engine: Engine,
    ray_address: str | None,
) -> Iterator[str | None]:
    """`detect_worker`'s answers as files finish: a local process pool (`workers` processes,
    default one per core), or Ray tasks (classrec.engine_ray: same worker, same outputs)."""
    if engine == "ray":
        from classrec.engine_ray import run_tasks

        yield from run_tasks(detect_worker, jobs, [settings], ray_address, workers)
        return
    processes = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    with ProcessPoolExecutor(processes) as pool:
        futures = [pool.submit(detect_worker, job, settings) for job in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:  # Ctrl-C: do not start the files still queued
            pool.shutdown(cancel_futures=True)
            raise


def make_output_folders(jobs: Sequence[Job]) -> None:
    """Create the folders the jobs write into, or say in one line which one cannot be."""
    for folder in {job.dest.parent for job in jobs if job.dest is not None}:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            what = f"cannot create the output folder ({exc.strerror})"
            raise ClassRecError(f"{folder}: {what}") from None


def run_batch(
    jobs: Sequence[Job],
    settings: DetectSettings = DetectSettings(),  # noqa: B008 - frozen
    *,
    workers: int | None = None,
    engine: Engine = "local",
    ray_address: str | None = None,
    on_error: Callable[[str], None] | None = None,
) -> list[str]:
    """Run every job (each with a `dest`) in parallel; returns one error line per failed file.

    `workers`: processes (or Ray CPUs), default all cores. `on_error` sees each error as it
    happens, printed above the files bar (shown when stderr is a terminal). Output folders
    are created first; a folder that cannot be is a ClassRecError before any work."""
    make_output_folders(jobs)
    errors = []
    bar = progress_bar(len(jobs), "file", "detect")
    for error in _results(jobs, settings, workers, engine, ray_address):
        if error is not None:
            errors.append(error)
            if on_error is not None:
                with bar.external_write_mode(file=sys.stderr):
                    on_error(error)
        bar.update()
    bar.close()
    return errors
