"""HTTP API on a real SQLite file: accounts, CSRF, isolation between users, uploads, bad input."""

from __future__ import annotations

import wave

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import text

from classrec.web.db import MIGRATIONS_DIR

from .conftest import FIXTURES, LECTURE, extra_client, upload


def test_health_and_security_headers(client: TestClient) -> None:
    response = client.get("/health")
    assert response.json() == {"status": "ok"}
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    page = client.get("/")
    assert page.status_code == 200 and "app.js" in page.text


def test_session_cookie_flags(app, client) -> None:  # noqa: ANN001
    c = extra_client(app)
    c.get("/health")
    c.headers["x-csrf-token"] = c.cookies["classrec_csrf"]
    body = {"email": "Flags@Example.org", "password": "correct horse"}
    assert c.post("/api/auth/signup", json=body).status_code == 202
    r = c.post("/api/auth/login", json=body)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert r.json()["email"] == "flags@example.org"
    assert c.get("/api/auth/me").status_code == 200
    assert c.post("/api/auth/logout").status_code == 204
    assert c.get("/api/auth/me").status_code == 401


def test_state_changing_requests_need_the_csrf_header(client: TestClient) -> None:
    token = client.headers.pop("x-csrf-token")
    assert client.post("/api/lectures", json={"title": "x"}).status_code == 403
    response = client.post("/api/lectures", json={"title": "x"}, headers={"x-csrf-token": "bad"})
    assert response.status_code == 403
    client.headers["x-csrf-token"] = token
    assert client.post("/api/lectures", json={"title": "x"}).status_code == 201


def test_login_and_rate_limit(app, client) -> None:  # noqa: ANN001 - settings allow 3 failures
    c = extra_client(app)
    c.get("/health")
    c.headers["x-csrf-token"] = c.cookies["classrec_csrf"]
    good = {"email": "alice@example.org", "password": "correct horse"}
    bad = {**good, "password": "wrong password"}
    assert c.post("/api/auth/login", json=good).status_code == 200
    assert [c.post("/api/auth/login", json=bad).status_code for _ in range(3)] == [401] * 3
    limited = c.post("/api/auth/login", json=good)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0


def test_signup_keeps_existing_accounts_and_refuses_short_passwords(app, client) -> None:  # noqa: ANN001
    c = extra_client(app)
    c.get("/health")
    c.headers["x-csrf-token"] = c.cookies["classrec_csrf"]
    dup = {"email": "alice@example.org", "password": "x" * 9}
    assert c.post("/api/auth/signup", json=dup).status_code == 202  # as for a new e-mail
    assert "set-cookie" not in c.post("/api/auth/signup", json=dup).headers
    assert c.post("/api/auth/login", json=dup).status_code == 401  # Alice's account unchanged
    alice = {**dup, "password": "correct horse"}
    assert c.post("/api/auth/login", json=alice).status_code == 200
    short = c.post("/api/auth/signup", json={"email": "c@example.org", "password": "short"})
    assert short.status_code == 422


def test_upload_library_rename_bookmarks_downloads_delete(client: TestClient) -> None:
    lecture = upload(client, LECTURE.read_bytes(), "../../etc/passwd/talk.flac").json()
    assert lecture["original_name"] == "talk.flac" and lecture["title"] == "talk"
    assert lecture["duration_s"] == pytest.approx(9.91, abs=0.01)
    base = f"/api/lectures/{lecture['id']}"
    assert [x["id"] for x in client.get("/api/lectures").json()] == [lecture["id"]]
    assert client.patch(base, json={"title": "Week 1"}).json()["title"] == "Week 1"
    mark = client.post(f"{base}/bookmarks", json={"t": 2.5, "note": "definition"}).json()
    assert client.get(f"{base}/bookmarks").json() == [mark]
    assert client.get(f"{base}/original").content == LECTURE.read_bytes()
    regions = client.get(f"{base}/regions").json()
    assert regions["duration_s"] == pytest.approx(9.91, abs=0.01) and regions["curve"]
    for fmt in ("json", "csv", "rttm", "srt"):
        response = client.get(f"{base}/segments", params={"format": fmt})
        assert response.status_code == 200 and "Week_1" in response.headers["content-disposition"]
    assert client.get(f"{base}/segments", params={"format": "../x"}).status_code == 400
    speech = client.get(f"{base}/speech-only")
    assert speech.status_code == 200 and speech.content[:4] == b"RIFF"
    played = client.get(f"{base}/audio", headers={"range": "bytes=0-99"})
    assert played.status_code == 206 and len(played.content) == 100
    assert client.delete(base).status_code == 204
    assert client.get(base).status_code == 404


def test_other_users_lectures_are_404(client: TestClient, other_client: TestClient) -> None:
    lecture_id = upload(client, LECTURE.read_bytes()).json()["id"]
    for method, suffix in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/audio"),
                           ("GET", "/bookmarks"), ("GET", "/speech-only")]:  # fmt: skip
        kwargs = {"json": {"title": "mine"}} if method == "PATCH" else {}
        response = other_client.request(method, f"/api/lectures/{lecture_id}{suffix}", **kwargs)
        assert response.status_code == 404, (method, suffix)
    assert other_client.get("/api/lectures").json() == []
    assert client.get(f"/api/lectures/{lecture_id}").status_code == 200


def test_bad_uploads_are_refused_cleanly(client: TestClient, settings) -> None:  # noqa: ANN001
    flac = LECTURE.read_bytes()
    not_audio = upload(client, b"%PDF-1.4 this is not audio at all" * 100, "notes.wav")
    assert not_audio.status_code == 415 and "decode" in not_audio.json()["detail"]
    truncated = upload(client, flac[: len(flac) // 3], "cut.flac")
    assert truncated.status_code in (201, 415)  # a decodable prefix may be kept; never a 500
    too_big = upload(client, b"\0" * (settings.max_upload_bytes + 1), "big.wav")
    assert too_big.status_code == 413 and "MB" in too_big.json()["detail"]
    assert upload(client, b"", "empty.wav").status_code == 400
    # nothing half-stored: only the truncated file (if it decoded) exists
    dirs = list(settings.lectures_dir.iterdir())
    assert len(dirs) == len(client.get("/api/lectures").json())
    assert upload(client, flac).status_code == 201  # and the server still works


def test_noise_upload_has_little_speech(client: TestClient) -> None:
    lecture = upload(client, (FIXTURES / "noise.flac").read_bytes(), "noise.flac").json()
    assert lecture["duration_s"] == pytest.approx(5.4, abs=0.05)


def test_storage_reports_free_space(client: TestClient) -> None:
    body = client.get("/api/storage").json()
    assert body["free_bytes"] > 0 and body["free_seconds"] == body["free_bytes"] // 32000


def test_fresh_database_is_migrated(app, client) -> None:  # noqa: ANN001
    """On SQLite (a new file in the data dir) and PostgreSQL (DATABASE_URL) alike."""
    with app.state.db.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def test_wav_upload_roundtrip(client: TestClient, tmp_path, lecture_pcm) -> None:  # noqa: ANN001
    path = tmp_path / "clip.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(lecture_pcm)
    lecture = upload(client, path.read_bytes(), "clip.wav").json()
    stored = client.get(f"/api/lectures/{lecture['id']}/audio").content
    assert stored[44:] == lecture_pcm
