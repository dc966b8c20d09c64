"""Progress bars on stderr (tqdm): seconds of audio for one long file, files for a batch.

Bars are drawn only when stderr is a terminal, so logs, pipes and tests stay quiet unless they
pass a `file` to draw on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import numpy as np
from tqdm import tqdm

from classrec.audio import probe_duration
from classrec.pipeline import source_name


def progress_bar(
    total: float, unit: str, desc: str, file: TextIO | None = None, bar_format: str | None = None
) -> tqdm:
    """tqdm on stderr, shown only when stderr is a terminal (quiet in logs and pipes); on
    `file` when one is given."""
    disable = file is None and not sys.stderr.isatty()
    return tqdm(
        total=total or None, unit=unit, desc=desc, file=file, disable=disable, bar_format=bar_format
    )


def seconds_bar(
    total_s: float, desc: str, file: TextIO | None = None
) -> tuple[tqdm, Callable[[float], None]]:
    """A seconds-of-audio progress bar and the function advancing it by some seconds.

    `total_s` comes from the header and can be short of what decodes: the total grows with the
    count instead of the ETA going negative (`[00:19<-00:00]`)."""
    shape = "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]"
    bar = progress_bar(total_s, "s", desc, file, shape if total_s else "{desc}: {n:.0f} s")

    def advance(seconds: float) -> None:
        if bar.total and bar.n + seconds > bar.total:
            bar.total = bar.n + seconds
        bar.update(seconds)

    return bar, advance


def file_progress(path: str | Path, sample_rate: int) -> tuple[tqdm, Callable[[np.ndarray], None]]:
    """A seconds-of-audio bar for one long file (its duration from the header), and the block
    callback feeding it (`on_block` of `pipeline.file_probabilities`; blocks at `sample_rate`
    Hz)."""
    bar, advance = seconds_bar(probe_duration(path), source_name(path))
    return bar, lambda block: advance(len(block) / sample_rate)
