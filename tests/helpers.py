"""Helpers shared by several test modules (import them from here, not from another test module)."""

from __future__ import annotations

import json
from pathlib import Path

from classrec.segments import Segment

FIXTURES = Path(__file__).parent / "fixtures"
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
