"""Real instrument notes from Debian's General MIDI sound font (fluid-soundfont-gm, MIT).

A sound font is recorded notes plus playing rules. Only the notes are read here: the sample
headers (name, start, end, loop, rate, pitch) and the 16-bit PCM, parsed with `struct`, no
synthesizer. `synth.melody` plays tunes with them, so the training music holds solo guitars,
flutes, violins and pianos as recorded, not only as generated harmonics (which the model learnt to
tell apart from real instruments without learning that real ones are not speech). Samples whose
name could be a voice (choirs, "ahh"/"ohh" pads, and the saxophones' voice-range names) and the
drum kit are left out.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classrec.errors import ClassRecError
from classrec.train.packages import Package, unpack

PACKAGE = Package("fluid-soundfont-gm", "music", "MIT")
VOICE_LIKE = re.compile(
    r"ahh|ohh|aah|ooh|choir|voice|vox|synthvz|alto|tenor|soprano|baritone|"
    r"808|std|snr|tom|hi-hat|brush|kick|cymbal|crash|ride|clap|gun|whistle|orchcrash",
    re.IGNORECASE,
)
MIN_SECONDS = 0.15


@dataclass(frozen=True)
class Note:
    """One recorded note: samples (float32), their rate, the pitch played (Hz) and the loop
    (start, end) in samples that a held note repeats (end == start: no loop)."""

    name: str
    samples: np.ndarray
    rate: int
    pitch_hz: float
    loop: tuple[int, int]


def _chunks(data: bytes, first: int, end: int):
    """(id, offset, size) of the RIFF chunks between `first` and `end`."""
    end = min(end, len(data))  # a truncated file's sizes point past its end
    while first + 8 <= end:
        cid, size = data[first : first + 4], struct.unpack("<I", data[first + 4 : first + 8])[0]
        yield cid, first + 8, size
        first += 8 + size + (size & 1)


def read_notes(path: Path) -> list[Note]:
    """Every usable melodic note of an SF2 file (see the module docstring for what is dropped)."""
    data = path.read_bytes()
    parts = {}
    for cid, at, size in _chunks(data, 12, len(data)) if data[8:12] == b"sfbk" else ():
        if cid == b"LIST":
            for sub, sub_at, sub_size in _chunks(data, at + 4, at + size):
                parts[sub] = (sub_at, sub_size)
    needed = [parts.get(b"smpl"), parts.get(b"shdr")]
    if data[:4] != b"RIFF" or any(p is None or p[0] + p[1] > len(data) for p in needed):
        raise ClassRecError(f"{path}: not a SoundFont 2 file, or a truncated one")
    pcm_at, pcm_size = parts[b"smpl"]
    pcm = np.frombuffer(data, "<i2", pcm_size // 2, pcm_at)
    at, size = parts[b"shdr"]
    notes = []
    for i in range(size // 46 - 1):  # the last header is the terminal "EOS"
        record = data[at + 46 * i : at + 46 * (i + 1)]
        name = record[:20].split(b"\0")[0].decode("latin-1")
        start, end, loop_start, loop_end, rate, key, cents, _, kind = struct.unpack(
            "<IIIIIBbHH", record[20:]
        )
        if kind & 0x8000 or VOICE_LIKE.search(name) or end - start < MIN_SECONDS * rate:
            continue  # ROM samples, voices, drums, effects, blips
        loop = (loop_start - start, loop_end - start) if loop_end > loop_start + 32 else (0, 0)
        pitch = 440.0 * 2 ** ((key - 69 - cents / 100) / 12)
        samples = pcm[start:end].astype(np.float32) / 32768
        notes.append(Note(name, samples, rate, pitch, loop))
    return notes


def notes(cache: Path) -> list[Note]:
    """The sound font's notes, fetched with `apt-get download` into `cache` on first use."""
    root = unpack(PACKAGE, cache)
    return read_notes(next(root.rglob("*.sf2")))
