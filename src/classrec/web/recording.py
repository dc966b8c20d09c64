"""A live lecture's files while it records: the WAV and the probabilities, appended as they
arrive, and made durable in the background.

- Audio is appended with `os.write` the moment a frame arrives, so a killed server loses
  nothing the kernel has; the WAV header says "0 bytes" until `storage.fix_wav_header` fixes it
  (at stop, or when a crashed recording is recovered).
- `sync_all` makes every recording durable at once: one Linux `syncfs` of the data folder (a
  few ms whatever the number of recordings; an fsync costs 3-5 ms per file), else one fsync per
  file. The hub calls it every `fsync_interval_s`, in a thread.
- A recording without a client holds no file handles (`close`, reopened by `open`), so sockets
  opened and abandoned cannot exhaust them.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from classrec.web.storage import LectureFiles


def _syncfs_function() -> Callable[[int], int] | None:
    """Linux `syncfs(fd)` from libc: flushes every file of one filesystem in a single call."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # not Linux / no glibc symbol
        return None
    fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
    return fn


_SYNCFS = _syncfs_function()


class Recording:
    """The open WAV and probabilities files of one live lecture."""

    def __init__(self, files: LectureFiles) -> None:
        self.files = files
        self.unsynced = False
        self._audio_fd: int | None = None
        self._probs_fd: int | None = None
        self._lock = threading.Lock()  # sync (sync thread) vs close (stop): never a closed fd

    @property
    def is_open(self) -> bool:
        return self._audio_fd is not None

    def open(self) -> None:
        """Open both files for appending (while a client is connected); the WAV must exist."""
        with self._lock:
            if self._audio_fd is None:
                self._audio_fd = os.open(self.files.audio, os.O_WRONLY | os.O_APPEND)
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
                self._probs_fd = os.open(self.files.probs, flags, 0o600)

    def write_audio(self, data: memoryview) -> int:
        """Append PCM16 bytes to the WAV; returns how many were written (a short write leaves
        the rest to the caller, who counts exactly what the file holds)."""
        written = os.write(self._audio_fd, data)
        self.unsynced = True
        return written

    def write_probs(self, probs: np.ndarray) -> None:
        """Append float32 probabilities, one per window."""
        os.write(self._probs_fd, probs.astype("<f4").tobytes())

    def sync(self) -> None:
        """fsync both files if anything was written since the last sync."""
        with self._lock:
            if self.unsynced and self._audio_fd is not None:
                self.unsynced = False
                os.fsync(self._audio_fd)
                os.fsync(self._probs_fd)

    def close(self) -> None:
        """Make everything durable and close the files (`open` reopens them)."""
        self.unsynced = True
        self.sync()
        with self._lock:
            if self._audio_fd is not None:
                os.close(self._audio_fd)
                os.close(self._probs_fd)
            self._audio_fd = self._probs_fd = None


def sync_all(recordings: Iterable[Recording], folder: Path) -> None:
    """Make every written byte of these recordings durable: one `syncfs` of `folder`'s
    filesystem where Linux has it, else (or if it fails) one fsync per file."""
    dirty = [r for r in recordings if r.unsynced]
    if dirty and _SYNCFS is not None:
        for recording in dirty:  # cleared first: a frame written meanwhile marks it again
            recording.unsynced = False
        fd = os.open(folder, os.O_RDONLY)
        try:
            if _SYNCFS(fd) == 0:
                return
        finally:
            os.close(fd)
        for recording in dirty:  # syncfs failed: fall back to per-file fsync
            recording.unsynced = True
    for recording in dirty:
        recording.sync()
