"""Helpers shared by several test modules (import them from here, not from another test module)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from classrec.segments import Segment

FIXTURES = Path(__file__).parent / "fixtures"
LECTURE = FIXTURES / "lecture.flac"
VIDEO = ["-f", "lavfi", "-i", "testsrc=s=64x48:r=5", "-shortest", "-pix_fmt", "yuv420p"]
ENCODINGS = {  # name → (file name, ffmpeg output arguments)
    "wav": ("lecture.wav", ["-c:a", "pcm_s16le"]),
    "flac-44k-stereo": ("lecture-st.flac", ["-ar", "44100", "-ac", "2"]),
    "mp3": ("lecture.mp3", ["-c:a", "libmp3lame"]),
    "ogg": ("lecture.ogg", ["-c:a", "libvorbis"]),
    "opus": ("lecture.opus", ["-c:a", "libopus"]),
    "m4a": ("lecture.m4a", ["-c:a", "aac"]),
    "webm": (
        "lecture.webm",
        [*VIDEO, "-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libopus"],
    ),
    "mp4": ("lecture.mp4", [*VIDEO, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]),
    "mkv": ("lecture.mkv", [*VIDEO, "-c:v", "mpeg4", "-c:a", "libvorbis", "-ac", "2"]),
}


def ffmpeg(*args: str | Path) -> None:
    """Run the ffmpeg binary quietly (tests only: to make real files in every format)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


BAD = {  # file → what the one-line message must say
    "missing.wav": "no such file",
    "empty.wav": "empty",
    "text.wav": "not a readable audio/video file",
    "truncated.wav": "truncated",
    "truncated.flac": "truncated",
    "truncated.mp3": "truncated",
    "unknown-codec.wav": "unsupported audio codec",
    "zero.wav": "zero length",
    "silent-video.mp4": "video with no audio stream",
    "nan.wav": "NaN",
}
TOLERANCE_S = 0.05
"""Required accuracy of segment boundaries against the fixture's labels."""
FOUND_S = 0.3
"""Looser bound for tests of plumbing (formats, CLI, streaming): the regions are found."""


def lecture_regions() -> list[list[float]]:
    """The labelled speech regions of fixtures/lecture.flac, [start, end] in seconds."""
    return json.loads((FIXTURES / "lecture.json").read_text())["speech"]


def assert_matches_regions(
    segments: list[Segment], regions: list[list[float]], tolerance_s: float = TOLERANCE_S
) -> None:
    """Each labelled speech region found once, both ends within `tolerance_s` (s)."""
    found = [(round(s.start, 3), round(s.end, 3)) for s in segments]
    assert len(found) == len(regions), f"found {found}, expected {regions}"
    for (start, end), (ref_start, ref_end) in zip(found, regions, strict=True):
        assert abs(start - ref_start) <= tolerance_s, f"start {start} vs {ref_start}: {found}"
        assert abs(end - ref_end) <= tolerance_s, f"end {end} vs {ref_end}: {found}"
