"""Per-user segmentation presets (GET/PUT /api/me/preset) on a real app and SQLite file: choosing
a room, uploading a `classrec tune` preset file, bad files refused, other users unaffected, and
the preset really changing a lecture's regions, speech-only audio and speech ratio."""

from __future__ import annotations

import io
import json
import struct
import wave

from conftest import LECTURE
from fastapi.testclient import TestClient

from classrec.presets import preset_json
from classrec.segments import VadOptions, speech_segments
from classrec.web import storage
from classrec.web.analysis import WINDOW_S
from classrec.web.presets import ROOMS

STRICT = VadOptions(threshold=0.99, neg_threshold=0.9, min_speech_ms=2000)
"""Far stricter than the default: only long, very confident speech is kept."""


def put_preset(client: TestClient, **body: object):  # noqa: ANN201 - httpx response
    return client.put("/api/me/preset", json=body)


def upload_lecture(client: TestClient) -> dict:
    response = client.post(
        "/api/lectures/upload", params={"filename": "talk.flac"}, content=LECTURE.read_bytes()
    )
    assert response.status_code == 201, response.text
    return response.json()


def regions(client: TestClient, lecture_id: str) -> list[list[float]]:
    return client.get(f"/api/lectures/{lecture_id}/regions").json()["segments"]


def speech_seconds(found: list[list[float]]) -> float:
    return sum(end - start for start, end in found)


def test_default_then_a_room_read_back(client: TestClient) -> None:
    preset = client.get("/api/me/preset").json()
    assert preset["name"] == "default"
    assert preset["options"]["threshold"] == VadOptions().threshold
    assert preset["options"]["max_speech_s"] is None  # no limit: JSON has no infinity
    assert set(preset["rooms"]) == {"default", "quiet room", "noisy room"}

    chosen = put_preset(client, name="noisy room")
    assert chosen.status_code == 200, chosen.text
    preset = client.get("/api/me/preset").json()
    assert preset["name"] == "noisy room"
    assert preset["options"]["threshold"] == ROOMS["noisy room"].threshold == 0.6
    assert preset["options"]["min_speech_ms"] == ROOMS["noisy room"].min_speech_ms

    assert put_preset(client, name="default").json()["name"] == "default"
    assert client.get("/api/me/preset").json()["options"]["threshold"] == 0.5


def test_uploaded_preset_file_is_stored(client: TestClient) -> None:
    text = preset_json(STRICT, {"tuned_on": "room.flac"})
    response = put_preset(client, file=text)
    assert response.status_code == 200, response.text
    preset = client.get("/api/me/preset").json()
    assert preset["name"] == "uploaded"
    assert preset["options"]["threshold"] == 0.99
    assert preset["options"]["neg_threshold"] == 0.9
    assert preset["options"]["min_speech_ms"] == 2000


def test_bad_preset_files_are_422_and_change_nothing(client: TestClient) -> None:
    assert put_preset(client, name="quiet room").status_code == 200
    bad = {
        "{": "cannot read preset",
        '{"options": {"threshold": 0.5}}': "not a classrec preset",
        '{"classrec_preset": 1}': "preset has no options",
        '{"classrec_preset": 1, "options": {"loudness": 3}}': "unknown options loudness",
        '{"classrec_preset": 1, "options": {"threshold": 1.5}}': "threshold must be between",
        '{"classrec_preset": 1, "options": {"min_speech_ms": "long"}}': "the preset file",
    }
    for text, reason in bad.items():
        response = put_preset(client, file=text)
        assert response.status_code == 422, text
        assert reason in response.json()["detail"], response.text
        assert "Traceback" not in response.text
    unknown_room = put_preset(client, name="cathedral")
    assert unknown_room.status_code == 422
    assert "choose one of default, quiet room, noisy room" in unknown_room.json()["detail"]
    assert client.get("/api/me/preset").json()["name"] == "quiet room"


def test_another_users_preset_is_unaffected(client: TestClient, other_client: TestClient) -> None:
    assert put_preset(client, file=preset_json(STRICT)).status_code == 200
    assert put_preset(other_client, name="noisy room").status_code == 200
    assert client.get("/api/me/preset").json()["name"] == "uploaded"
    assert other_client.get("/api/me/preset").json()["name"] == "noisy room"


def test_the_preset_changes_regions_speech_only_and_ratio(client: TestClient, settings) -> None:  # noqa: ANN001
    lecture = upload_lecture(client)
    before = regions(client, lecture["id"])
    speech_only_before = wav_seconds(client.get(f"/api/lectures/{lecture['id']}/speech-only"))

    assert put_preset(client, file=preset_json(STRICT)).status_code == 200
    after = regions(client, lecture["id"])
    probs = storage.read_probs(storage.LectureFiles.of(settings.lectures_dir, lecture["id"]).probs)
    expected = speech_segments(probs, STRICT, window_s=WINDOW_S, duration_s=lecture["duration_s"])
    assert after == [[round(s.start, 3), round(s.end, 3)] for s in expected]  # the library's cut
    assert 0 < speech_seconds(after) < speech_seconds(before) - 0.5
    assert all(any(a <= s and e <= b for a, b in before) for s, e in after)  # only removes

    # the speech-only file made with the old preset is not served again (its wider margins
    # than the regions' hide part of the difference)
    speech_only_after = wav_seconds(client.get(f"/api/lectures/{lecture['id']}/speech-only"))
    assert speech_only_after < speech_only_before - 0.2

    # a new upload's stored speech ratio uses the preset too
    again = upload_lecture(client)
    assert again["speech_ratio"] < lecture["speech_ratio"]
    expected_ratio = speech_seconds(after) / lecture["duration_s"]
    assert abs(again["speech_ratio"] - expected_ratio) < 0.01


def test_a_live_recordings_regions_and_ratio_use_the_preset(client, lecture_pcm) -> None:  # noqa: ANN001
    assert put_preset(client, file=preset_json(STRICT)).status_code == 200
    lecture_id = client.post("/api/lectures", json={"title": "live"}).json()["id"]
    with client.websocket_connect(f"/api/lectures/{lecture_id}/live") as ws:
        assert ws.receive_json()["type"] == "ready"
        for offset in range(0, len(lecture_pcm), 4096):
            ws.send_bytes(struct.pack("<Q", offset) + lecture_pcm[offset : offset + 4096])
        ws.send_text(json.dumps({"type": "stop"}))
        while (stopped := ws.receive_json())["type"] != "stopped":
            pass
    strict = regions(client, lecture_id)
    assert abs(stopped["speech_ratio"] - speech_seconds(strict) / stopped["duration_s"]) < 0.01
    assert put_preset(client, name="default").status_code == 200
    assert speech_seconds(strict) < speech_seconds(regions(client, lecture_id)) - 0.5


def test_a_course_student_sees_the_owners_regions(client, other_client, settings) -> None:  # noqa: ANN001
    lecture = upload_lecture(client)
    course = client.post("/api/courses", json={"title": "Physics"}).json()
    assert client.put(f"/api/courses/{course['id']}/lectures/{lecture['id']}").status_code == 200
    joined = other_client.post("/api/courses/join", json={"code": course["invite_code"]})
    assert joined.status_code in (200, 201), joined.text
    assert put_preset(client, file=preset_json(STRICT)).status_code == 200
    assert put_preset(other_client, name="quiet room").status_code == 200
    assert regions(other_client, lecture["id"]) == regions(client, lecture["id"])


def wav_seconds(response) -> float:  # noqa: ANN001 - httpx response
    assert response.status_code == 200, response.text
    with wave.open(io.BytesIO(response.content)) as wav:
        return wav.getnframes() / wav.getframerate()


def test_migration_0004_adds_and_drops_the_column_keeping_every_row(tmp_path) -> None:  # noqa: ANN001
    """Up from 0003 with a user, a lecture and a login, and back down: nothing is lost (a batch
    copy of `users` would cascade away the rows that reference it)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from classrec.web.db import MIGRATIONS_DIR, Database

    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    counts = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM lectures), " + (
        "(SELECT count(*) FROM sessions)"
    )
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0003")
        connection.execute(
            text("INSERT INTO users VALUES (7, 'old@example.org', 'x', '2025-01-01')")
        )
        connection.execute(text(
            "INSERT INTO lectures (id, owner_id, title, source, status, duration_s, speech_ratio,"
            " created_at) VALUES ('a1', 7, 'Old', 'upload', 'ready', 1.0, 0.5, '2025-01-01')"
        ))  # fmt: skip
        connection.execute(text("INSERT INTO sessions VALUES ('h', 7, '2025-01-01', '2099-01-01')"))
        command.upgrade(cfg, "0004")
        assert connection.execute(text("SELECT segment_preset FROM users")).one() == (None,)
        assert connection.execute(text(counts)).one() == (1, 1, 1)
        command.downgrade(cfg, "0003")
        assert connection.execute(text(counts)).one() == (1, 1, 1)
        columns = [row[1] for row in connection.execute(text("PRAGMA table_info(users)"))]
        assert "segment_preset" not in columns
    db.engine.dispose()
