"""A preset tuned on the user's own labelled sample: the web side of `classrec tune`.

The user sends a few minutes of their audio and its speech labels (RTTM, Audacity labels, our
JSON or CSV: what `classrec tune` reads). The server runs the command's search (classrec.tune,
the same grid and checks) in a task of its own, so a reload does not stop it, and the page
polls its progress: first the decoding (seconds of audio against the file's declared duration),
then the search (options scored out of `search_size()`). The best options become the user's
preset, stored with a table of how they and the defaults score on the sample.

The search is pure Python over small numpy arrays: in a thread it holds the GIL, and beside one
real-time live stream it took about 4 times as long (19 s against 4.5 s for 200 s of audio, on
a loaded 2-core machine) while the stream's probabilities came later. So it runs in a process
of its own (`tune_in_child`, spawned: forking a threaded server is unsafe), which reports its
progress through two shared numbers.

Nothing changes on bad input: the labels are read before anything runs, and a sample that is
not audio, too long, or whose labels run past its end fails the task before the preset is set.
"""

from __future__ import annotations

import math
import multiprocessing
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE
from classrec.labels import LABEL_FORMATS, read_labels
from classrec.model import Detector
from classrec.pipeline import limit_blas_threads, shared_detector
from classrec.scoring import Counts
from classrec.segments import VadOptions
from classrec.tune import (
    OBJECTIVES,
    load_sample,
    preset_about,
    score,
    search_size,
    tune_samples,
)
from classrec.web.presets import DEFAULT, ROOMS, options_json

MAX_SAMPLE_MINUTES = 30
"""Longest sample (minutes): a few minutes show a room; the search's time grows with length
(about 3 s of CPU for 3 minutes)."""
MAX_LABELS_MB = 5
"""Largest labels file (MB): labels are parsed in memory, and a day of RTTM lines is under 1 MB."""
FOLDER_PREFIX = "tune-"
PROGRESS_S = 0.1
"""How often (s) the child's progress is copied to the job the page reads."""


class SampleTooLong(ClassRecError):
    """The sample decodes to more than MAX_SAMPLE_MINUTES (answered 413)."""


@dataclass
class TuningJob:
    """One user's tuning: what it works on and how far it got (read by the progress route)."""

    user_id: int
    audio_name: str
    labels_name: str
    objective: str = "frame_f1"
    total_s: float | None = None
    decoded_s: float = 0.0
    options_done: int = 0
    started: float = field(default_factory=time.monotonic)
    error: str | None = None
    done: bool = False
    max_minutes: float = field(default_factory=lambda: MAX_SAMPLE_MINUTES)

    def on_block(self, block: np.ndarray) -> None:
        """Count a decoded block (16 kHz samples); stop a sample longer than allowed."""
        self.decoded_s += len(block) / SAMPLE_RATE
        if self.decoded_s > self.max_minutes * 60:
            raise SampleTooLong(
                f"{self.audio_name} is longer than {self.max_minutes:g} min: "
                "a few minutes of labelled audio are enough"
            )

    def on_option(self) -> None:
        self.options_done += 1

    def progress(self) -> dict:
        """{state, phase, fraction (0..1 or None), elapsed_s, names} for the page."""
        state = "failed" if self.error else "done" if self.done else "running"
        if self.options_done or self.done:
            phase, fraction = "searching", self.options_done / search_size()
        else:
            phase = "decoding"
            fraction = min(1.0, self.decoded_s / self.total_s) if self.total_s else None
        return {
            "state": state,
            "phase": phase,
            "fraction": None if fraction is None else round(fraction, 3),
            "elapsed_s": round(time.monotonic() - self.started, 1),
            "audio": self.audio_name,
            "labels": self.labels_name,
            "error": self.error,
        }


class TuningJobs:
    """The latest tuning of each user in this process (kept after it ends, so the page can read
    how it ended), and the folders their samples are kept in while they run."""

    def __init__(self, tmp_dir: Path) -> None:
        """Samples left in `tmp_dir` by a server that stopped while tuning are removed: made at
        the app's start-up, before any request, so no tuning of this process has begun (the
        server is one process)."""
        self.tmp_dir = tmp_dir
        self.jobs: dict[int, TuningJob] = {}
        for folder in tmp_dir.glob(f"{FOLDER_PREFIX}*"):
            remove(folder)

    def new_folder(self) -> Path:
        """A private folder for one sample's files."""
        folder = self.tmp_dir / f"{FOLDER_PREFIX}{secrets.token_hex(8)}"
        folder.mkdir(mode=0o700, parents=True)
        return folder

    def running(self, user_id: int) -> TuningJob | None:
        job = self.jobs.get(user_id)
        return job if job is not None and not (job.done or job.error) else None

    def add(self, job: TuningJob) -> None:
        self.jobs[job.user_id] = job


def check_objective(objective: str) -> str:
    if objective not in OBJECTIVES:
        raise ClassRecError(f"unknown objective {objective!r}: choose {' or '.join(OBJECTIVES)}")
    return objective


def stored_name(kind: str, filename: str) -> str:
    """The name a sample's file is kept under in its private folder: `kind` and the user's
    extension (which picks the label format), never the user's name itself."""
    suffix = Path(filename).suffix.lower()
    return kind + (suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else "")


def check_labels(labels: Path, job: TuningJob) -> None:
    """Refuse labels that cannot be tuned on before any audio is decoded (unknown format,
    unreadable, no speech regions)."""
    try:
        regions = read_labels(labels, Path(job.audio_name).stem)
    except ClassRecError as exc:
        raise ClassRecError(_user_message(exc, {labels: job.labels_name})) from None
    if not regions:
        formats = ", ".join(LABEL_FORMATS)
        raise ClassRecError(
            f"{job.labels_name}: no speech regions in the labels (formats: {formats})"
        )


def tune_in_child(job: TuningJob, audio: Path, labels: Path) -> tuple[VadOptions, dict]:
    """`tune_sample` in a spawned process; blocking (call it from a thread). The job's progress
    follows the child's; the child's ClassRecErrors are raised here as the same class."""
    context = multiprocessing.get_context("spawn")
    decoded, done = context.Value("d", 0.0, lock=False), context.Value("i", 0, lock=False)
    receiver, sender = context.Pipe(duplex=False)
    args = (job, audio, labels, decoded, done, sender)
    child = context.Process(target=_tune_child, args=args, daemon=True)
    child.start()
    sender.close()  # the child's end: its exit then ends the pipe
    try:
        while not receiver.poll(PROGRESS_S):
            job.decoded_s, job.options_done = decoded.value, done.value
        kind, *answer = receiver.recv()
    except EOFError:
        raise RuntimeError(f"the tuning process ended with code {child.exitcode}") from None
    finally:
        child.join(5)
        if child.is_alive():
            child.kill()
        receiver.close()
    job.decoded_s, job.options_done = decoded.value, done.value
    if kind == "error":
        too_long, message = answer
        raise (SampleTooLong if too_long else ClassRecError)(message)
    return answer[0], answer[1]


def _tune_child(job: TuningJob, audio: Path, labels: Path, decoded, done, sender) -> None:  # noqa: ANN001 - shared values, a pipe end
    """The child process: tune, publishing progress in `decoded` (s) and `done` (options), and
    send ("ok", options, about) or ("error", too long?, message). A fresh interpreter: it limits
    its own BLAS threads as the server does."""
    limit_blas_threads()

    def on_block(block: np.ndarray) -> None:
        job.on_block(block)
        decoded.value = job.decoded_s

    def on_option() -> None:
        job.on_option()
        done.value = job.options_done

    try:
        best, about = tune_sample(
            job, audio, labels, shared_detector(SAMPLE_RATE), on_block, on_option
        )
        sender.send(("ok", best, about))
    except ClassRecError as exc:
        sender.send(("error", isinstance(exc, SampleTooLong), str(exc)))
    finally:
        sender.close()


def tune_sample(
    job: TuningJob,
    audio: Path,
    labels: Path,
    detector: Detector,
    on_block: Callable[[np.ndarray], None] | None = None,
    on_option: Callable[[], None] | None = None,
) -> tuple[VadOptions, dict]:
    """(best options, about) for a stored sample: `classrec tune` on it, counting progress with
    `on_block` and `on_option` (the job's own by default). ClassRecErrors name the user's files,
    never the server's paths."""
    on_block, on_option = on_block or job.on_block, on_option or job.on_option
    try:
        sample = load_sample(labels, audio, detector, job.audio_name, on_block)
        tried = tune_samples([sample], job.labels_name, job.objective, on_option=on_option)
    except ClassRecError as exc:
        names = {labels: job.labels_name, audio: job.audio_name}
        raise type(exc)(_user_message(exc, names)) from None
    best, counts = tried[0]
    about = preset_about([sample], job.labels_name, job.objective, math.inf, counts)
    about["scores"] = scores = _json_scores(counts)
    about["duration_s"] = round(sample.duration_s, 1)
    about["options_tried"] = len(tried)
    default = ROOMS[DEFAULT]
    about["table"] = [
        {"name": "tuned", "options": options_json(best), "scores": scores},
        {
            "name": "default",
            "options": options_json(default),
            "scores": _json_scores(score([sample], default)),
        },
    ]
    return best, about


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def _json_scores(counts: Counts) -> dict:
    """Scores as JSON values: rounded, and None where undefined (NaN: nothing to score)."""
    return {k: None if math.isnan(v) else round(v, 4) for k, v in counts.scores().items()}


def _user_message(exc: ClassRecError, names: dict[Path, str]) -> str:
    """The message with the server's paths of files replaced by the user's names for them."""
    message = str(exc)
    for path, name in names.items():
        message = message.replace(str(path), name)
    return message
