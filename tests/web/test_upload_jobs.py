"""Uploads: the same chosen file sent twice is one lecture (its key), the analysis outlives its
request with a `processing` lecture meanwhile, and progress comes from the growing WAV."""

from __future__ import annotations

import hashlib
import time

import pytest
from fastapi.testclient import TestClient

from classrec.web import crud
from classrec.web.storage import HEADER_BYTES, LectureFiles
from classrec.web.upload_jobs import Job, declared_seconds

from .conftest import LECTURE, upload, write_wav

KEY = hashlib.sha256(b"talk.flac|161803|1700000000000").hexdigest()


def test_same_key_is_one_lecture(client: TestClient, settings) -> None:  # noqa: ANN001
    assert client.get(f"/api/lectures/upload/{KEY}").status_code == 404
    first = upload(client, LECTURE.read_bytes(), key=KEY)
    assert first.status_code == 201 and first.json()["status"] == "ready"
    again = upload(client, LECTURE.read_bytes(), key=KEY)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert client.get(f"/api/lectures/upload/{KEY}").json()["id"] == first.json()["id"]
    assert len(client.get("/api/lectures").json()) == 1
    assert len(list(settings.lectures_dir.iterdir())) == 1  # the second body was not kept
    other = upload(client, LECTURE.read_bytes(), key=KEY[::-1])  # another file: a new lecture
    assert other.status_code == 201 and len(client.get("/api/lectures").json()) == 2
    assert upload(client, LECTURE.read_bytes(), key="../x").status_code == 422


def test_keys_are_per_user(client: TestClient, other_client: TestClient) -> None:
    mine = upload(client, LECTURE.read_bytes(), key=KEY).json()
    assert other_client.get(f"/api/lectures/upload/{KEY}").status_code == 404
    theirs = upload(other_client, LECTURE.read_bytes(), key=KEY)
    assert theirs.status_code == 201 and theirs.json()["id"] != mine["id"]


def test_a_failed_analysis_keeps_nothing(client: TestClient, settings) -> None:  # noqa: ANN001
    refused = upload(client, b"%PDF-1.4 not audio" * 100, key=KEY)
    assert refused.status_code == 415
    assert client.get("/api/lectures").json() == [] and not list(settings.lectures_dir.iterdir())
    assert upload(client, LECTURE.read_bytes(), key=KEY).status_code == 201  # may try again


def test_progress_follows_the_wav(tmp_path, lecture_pcm) -> None:  # noqa: ANN001
    files = LectureFiles(tmp_path)
    job = Job("a" * 32, 1, files, total_s=20.0, started=time.monotonic() - 3.0)
    assert job.progress()["fraction"] == 0.0 and job.progress()["eta_s"] is None
    write_wav(files.audio, lecture_pcm[: 5 * 32000])  # 5 s of 20 written in 3 s
    shown = job.progress()
    assert shown["done_s"] == 5.0 and shown["fraction"] == 0.25
    assert shown["eta_s"] == pytest.approx(9.0, abs=0.2)  # 3 s per 5 s: 15 s left take 9 s
    assert files.audio.stat().st_size == HEADER_BYTES + 5 * 32000


def test_declared_seconds(tmp_path) -> None:  # noqa: ANN001
    assert declared_seconds(LECTURE) == pytest.approx(9.91, abs=0.01)
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"not audio")
    assert declared_seconds(bad) is None


def test_processing_lecture_is_listed_not_played(client: TestClient, settings) -> None:  # noqa: ANN001
    """A lecture left `processing` with no analysis running (the server restarted meanwhile)
    is analysed again when the library asks for progress."""
    lecture = upload(client, LECTURE.read_bytes()).json()
    with client.app.state.db.session() as db:
        crud.update_lecture(db, lecture["id"], status="processing", duration_s=0.0)
    assert client.get("/api/lectures").json()[0]["status"] == "processing"
    answer = client.get(f"/api/lectures/{lecture['id']}/regions")
    assert answer.status_code == 409 and "analysed" in answer.json()["detail"]
    jobs = client.get("/api/lectures/progress").json()
    assert list(jobs) == [lecture["id"]]
    deadline = time.monotonic() + 30
    while client.get("/api/lectures/progress").json() and time.monotonic() < deadline:
        time.sleep(0.1)
    again = client.get(f"/api/lectures/{lecture['id']}").json()
    assert again["status"] == "ready" and again["duration_s"] == lecture["duration_s"]
    assert client.get(f"/api/lectures/{lecture['id']}/regions").status_code == 200
