"""Upload analysis goes through the library's file pipeline: the same file gives the same
probabilities and stored audio in the web app as in `classrec detect`, the decode limit stops the
work, and the web app shares the library's one detector."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from classrec import pipeline
from classrec.audio import load_audio
from classrec.web import analysis, storage

from .conftest import LECTURE


def test_upload_gives_the_pipelines_probabilities(client: TestClient, settings) -> None:  # noqa: ANN001
    response = client.post(
        "/api/lectures/upload", params={"filename": "talk.flac"}, content=LECTURE.read_bytes()
    )
    assert response.status_code == 201
    files = storage.LectureFiles.of(settings.lectures_dir, response.json()["id"])
    probs, duration = pipeline.file_probabilities(LECTURE)
    np.testing.assert_array_equal(storage.read_probs(files.probs), probs)
    assert response.json()["duration_s"] == pytest.approx(duration, abs=1e-3)
    stored = np.frombuffer(files.audio.read_bytes()[storage.HEADER_BYTES :], "<i2")
    np.testing.assert_array_equal(stored, storage.to_pcm16(load_audio(LECTURE)))


def test_decode_limit_stops_before_passing_it(tmp_path) -> None:  # noqa: ANN001
    files = storage.LectureFiles(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    limit = analysis.DecodeLimit(samples=3 * storage.SAMPLE_RATE, reason="too long for the test")
    with pytest.raises(analysis.TooMuchAudio, match="too long for the test"):
        analysis.process_upload(LECTURE, files, limit)
    stored = files.audio.stat().st_size - storage.HEADER_BYTES
    assert stored // 2 <= limit.samples  # nothing past the limit was written
    assert not files.probs.exists()


def test_one_detector_for_library_and_web() -> None:
    assert analysis.detector() is pipeline.shared_detector(storage.SAMPLE_RATE)
