"""Upload analysis goes through the library's file pipeline: the same file gives the same
probabilities and stored audio in the web app as in `classrec detect`, the decode limit stops the
work, and the web app shares the library's one detector."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from classrec import pipeline
from classrec.audio import load_audio
from classrec.speech_only import speech_only
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


def test_speech_only_download_is_the_clis_cut(client: TestClient, settings, tmp_path) -> None:  # noqa: ANN001
    """The same lecture gives the same speech-only audio from the web app as from
    `classrec speech-only` with its defaults (one cut, one preset)."""
    lecture = client.post(
        "/api/lectures/upload", params={"filename": "talk.flac"}, content=LECTURE.read_bytes()
    ).json()
    web = client.get(f"/api/lectures/{lecture['id']}/speech-only")
    assert web.status_code == 200
    (tmp_path / "web.wav").write_bytes(web.content)
    cuts = speech_only(LECTURE, tmp_path / "cli.wav", cut_list=False)
    web_audio, cli_audio = load_audio(tmp_path / "web.wav"), load_audio(tmp_path / "cli.wav")
    assert 0 < len(cli_audio) < len(load_audio(LECTURE))  # something was cut, speech was kept
    assert len(web_audio) == len(cli_audio) == round(cuts.kept_s * storage.SAMPLE_RATE)
    np.testing.assert_array_equal(web_audio, cli_audio)
