"""Uploads analysed in a task of their own: a reload or a closed tab cancels the request, not
the analysis, and the library shows the lecture (status `processing`) with progress and an ETA
while it runs.

Progress needs nothing from the decoder: the analysis writes the 16 kHz WAV as it goes, so the
seconds done are the WAV's size, and the total is the container's declared duration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path

from classrec.audio import probe_duration
from classrec.web.storage import HEADER_BYTES, SAMPLE_RATE, LectureFiles

MIN_FRACTION_FOR_ETA = 0.02
"""No ETA before 2 % is done: the first block includes opening the file and warming up."""


def declared_seconds(path: Path) -> float | None:
    """The duration (s) a media file declares in its header, None if it declares none or cannot
    be opened (the analysis then reports what is wrong). Read by classrec.audio, the one place
    media files are opened."""
    return probe_duration(path) or None


@dataclass
class Job:
    """One upload's analysis: its lecture, where it writes, and when it started."""

    lecture_id: str
    owner_id: int
    files: LectureFiles
    total_s: float | None
    started: float = field(default_factory=time.monotonic)
    task: asyncio.Task | None = None

    def done_s(self) -> float:
        """Seconds of audio analysed so far (the WAV written block by block)."""
        try:
            size = self.files.audio.stat().st_size
        except FileNotFoundError:
            return 0.0
        return max(0, size - HEADER_BYTES) / 2 / SAMPLE_RATE

    def progress(self) -> dict:
        """{done_s, total_s, fraction (0..1 or None), eta_s (seconds or None)} for the page."""
        done = self.done_s()
        fraction = min(1.0, done / self.total_s) if self.total_s else None
        eta = None
        if fraction is not None and fraction >= MIN_FRACTION_FOR_ETA:
            elapsed = time.monotonic() - self.started
            eta = round(elapsed / fraction * (1 - fraction), 1)
        return {
            "done_s": round(done, 1),
            "total_s": round(self.total_s, 1) if self.total_s else None,
            "fraction": round(fraction, 3) if fraction is not None else None,
            "eta_s": eta,
        }


class UploadJobs:
    """The analyses running in this process, by lecture id."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}

    def start(self, job: Job, work: Coroutine) -> asyncio.Task:
        """Run `work` as a task that outlives the request that started it."""
        job.task = asyncio.get_running_loop().create_task(work)
        self.jobs[job.lecture_id] = job
        job.task.add_done_callback(lambda task: self._done(job, task))
        return job.task

    def _done(self, job: Job, task: asyncio.Task) -> None:
        """Forget the job; its failure was answered to its request, or nobody is left to tell
        (the lecture is gone either way), so it is marked seen rather than logged as lost."""
        self.jobs.pop(job.lecture_id, None)
        if not task.cancelled():
            task.exception()

    def progress_of(self, owner_id: int) -> dict[str, dict]:
        return {j.lecture_id: j.progress() for j in self.jobs.values() if j.owner_id == owner_id}

    def running(self, lecture_id: str) -> bool:
        return lecture_id in self.jobs
