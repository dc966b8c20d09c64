"""Shared fixtures: real audio clips with known speech regions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def lecture() -> tuple[np.ndarray, list[list[float]]]:
    """9.9 s of real speech and room tone at 16 kHz, and its speech regions in seconds."""
    from classrec.audio import load_audio

    regions = json.loads((FIXTURES / "lecture.json").read_text())["speech"]
    return load_audio(FIXTURES / "lecture.flac", 16000), regions


@pytest.fixture(scope="session")
def noise() -> np.ndarray:
    """5.4 s of a dog barking and a door slam at 16 kHz: no speech."""
    from classrec.audio import load_audio

    return load_audio(FIXTURES / "noise.flac", 16000)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The training corpus, where it is checked out beside the project."""
    if not (CORPUS / "manifest.csv").is_file():
        pytest.skip("corpus not found beside the project")
    return CORPUS
