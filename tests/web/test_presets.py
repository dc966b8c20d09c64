"""Per-user segmentation presets (GET/PUT /api/me/preset) on a real app and SQLite file: choosing
a room, uploading a `classrec tune` preset file, bad files refused, other users unaffected, and
the preset really changing a lecture's regions, speech-only audio and speech ratio. A preset
tuned on a labelled sample (POST /api/me/preset/sample) from the corpus's labelled recordings
(split=dev, read where the corpus is checked out), and the live speech light following it."""

from __future__ import annotations

import io
import json
import multiprocessing
import struct
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import LECTURE
from fastapi.testclient import TestClient
from helpers import ffmpeg

from classrec.outputs import format_segments
from classrec.presets import preset_json
from classrec.segments import Segment, VadOptions, speech_segments
from classrec.tune import load_sample, score, search_size, tune_samples
from classrec.web import preset_tuning, storage
from classrec.web.analysis import WINDOW_S
from classrec.web.app import create_app
from classrec.web.preset_tuning import SampleTooLong, TuningJob
from classrec.web.presets import ROOMS, options_json

SAMPLE = "speech/labelled-real/sppas-fra_F_F_C006-P6"
"""33 s of read French with five labelled speech regions: 0.6 MB, under the tests' 1 MB limit."""
SHORT = "speech/labelled-real/pyaudioanalysis-count.flac"
"""5.9 s of counting: shorter than SAMPLE's labels reach."""

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


# -- tuned on a labelled sample ------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample(corpus: Path) -> tuple[Path, Path]:
    """(audio, labels) of a labelled dev recording."""
    return corpus / f"{SAMPLE}.flac", corpus / f"{SAMPLE}.json"


def tune_on(client: TestClient, audio: tuple[str, bytes], labels: tuple[str, bytes], **fields):  # noqa: ANN201
    return client.post(
        "/api/me/preset/sample", files={"audio": audio, "labels": labels}, data=fields
    )


def test_a_sample_left_by_a_stopped_server_is_removed_at_start(settings) -> None:  # noqa: ANN001
    """Swept once at start-up, never on a request: a request's sweep could remove the folder of
    a sample another request is still receiving."""
    leftover = settings.tmp_dir / "tune-0123456789abcdef"  # a server stopped while tuning
    leftover.mkdir(parents=True)
    (leftover / "audio.flac").write_bytes(LECTURE.read_bytes())
    with TestClient(create_app(settings)):
        assert not leftover.exists()


def test_a_preset_tuned_on_a_labelled_sample(client, settings, sample) -> None:  # noqa: ANN001
    audio, labels = sample
    response = tune_on(
        client, ("talk.flac", audio.read_bytes()), ("talk.json", labels.read_bytes())
    )
    assert response.status_code == 200, response.text
    preset = response.json()

    # the same search as `classrec tune` on the same audio and labels
    library = load_sample(labels, audio)
    best, counts = tune_samples([library], "talk.json")[0]
    assert preset["name"] == "tuned"
    assert preset["options"] == options_json(best)
    about = preset["about"]
    assert about["tuned_on"] == ["talk.flac"] and about["labels"] == "talk.json"
    assert about["options_tried"] == search_size()
    table = {row["name"]: row["scores"] for row in about["table"]}
    assert table["tuned"]["frame_f1"] == pytest.approx(counts.frame_f1, abs=1e-4)
    default_f1 = score([library], VadOptions()).frame_f1
    assert table["default"]["frame_f1"] == pytest.approx(default_f1, abs=1e-4)
    assert table["tuned"]["frame_f1"] >= table["default"]["frame_f1"]

    assert client.get("/api/me/preset").json() == preset  # saved, table included
    progress = client.get("/api/me/preset/sample").json()
    assert progress["state"] == "done" and progress["fraction"] == 1.0
    assert list(settings.tmp_dir.iterdir()) == []  # the sample is not kept

    # the user's uploads are cut with it
    lecture = upload_lecture(client)
    probs = storage.read_probs(storage.LectureFiles.of(settings.lectures_dir, lecture["id"]).probs)
    expected = speech_segments(probs, best, window_s=WINDOW_S, duration_s=lecture["duration_s"])
    assert regions(client, lecture["id"]) == [
        [round(s.start, 3), round(s.end, 3)] for s in expected
    ]


def test_rttm_audacity_and_csv_labels_tune_as_the_json(client, sample) -> None:  # noqa: ANN001
    """The other label formats `classrec tune` reads give the options the corpus's JSON gives;
    an RTTM file's lines for another recording are left out (taken in, they would run past the
    end of the audio)."""
    audio, labels = sample
    found = json.loads(labels.read_text())["speech"]
    rttm = "".join(f"SPEAKER talk 1 {a} {b - a:.3f} <NA> <NA> A <NA> <NA>\n" for a, b in found)
    rttm += "SPEAKER lecture2 1 0.0 300.0 <NA> <NA> B <NA> <NA>\n"
    audacity = "".join(f"{a}\t{b}\tspeech\n" for a, b in found)
    csv = format_segments([Segment(a, b) for a, b in found], "csv")
    best = tune_samples([load_sample(labels, audio)], "talk.json")[0][0]
    for name, text in [("t.rttm", rttm), ("t.txt", audacity), ("t.csv", csv)]:
        response = tune_on(client, ("talk.flac", audio.read_bytes()), (name, text.encode()))
        assert response.status_code == 200, (name, response.text)
        assert response.json()["options"] == options_json(best), name


def test_the_objective_is_the_commands(client, sample) -> None:  # noqa: ANN001
    audio, labels = sample
    fields = {"objective": "segment_f1"}
    response = tune_on(
        client, ("a.flac", audio.read_bytes()), ("a.json", labels.read_bytes()), **fields
    )
    assert response.status_code == 200, response.text
    best = tune_samples([load_sample(labels, audio)], "a.json", "segment_f1")[0][0]
    assert response.json()["options"] == options_json(best)
    assert response.json()["about"]["objective"] == "segment_f1"


def test_bad_samples_are_one_line_and_change_nothing(client, settings, sample, corpus) -> None:  # noqa: ANN001
    audio, labels = sample
    flac, good = ("talk.flac", audio.read_bytes()), ("talk.json", labels.read_bytes())
    assert put_preset(client, name="quiet room").status_code == 200
    too_big = ("talk.flac", bytes(settings.max_upload_bytes + 1))
    cases = [  # (audio, labels, form fields, status, what the answer says)
        (flac, ("talk.json", b'{"speech": []}'), {}, 422, "talk.json: no speech regions"),
        (flac, ("talk.rttm", b""), {}, 422, "talk.rttm: no speech regions"),
        (flac, ("talk.json", b"{"), {}, 422, "talk.json: not valid json labels"),
        (flac, ("talk.doc", b"0\t1\n"), {}, 422, "talk.doc: unknown label format"),
        (("count.flac", (corpus / SHORT).read_bytes()), good, {}, 422,
         "talk.json: labels run to 31.5 s but count.flac lasts 5.9 s"),
        (("notes.flac", labels.read_bytes()), good, {}, 422, "notes.flac: "),
        (too_big, good, {}, 413, "the sample is larger than the 1 MB upload limit"),
        (flac, good, {"objective": "loudness"}, 422, "unknown objective 'loudness'"),
    ]  # fmt: skip
    for audio_part, labels_part, fields, status, reason in cases:
        response = tune_on(client, audio_part, labels_part, **fields)
        assert response.status_code == status, (reason, response.text)
        detail = response.json()["detail"]
        assert reason in detail, response.text
        assert "\n" not in detail and str(settings.data_dir) not in detail
    missing = client.post("/api/me/preset/sample", files={"audio": flac})
    assert missing.status_code == 422 and "send the audio and its labels" in missing.text
    chunked = client.post(
        "/api/me/preset/sample", content=iter([b"--x--\r\n"]),
        headers={"content-type": "multipart/form-data; boundary=x"},
    )  # fmt: skip
    assert chunked.status_code == 411, chunked.text
    assert client.get("/api/me/preset").json()["name"] == "quiet room"
    assert list(settings.tmp_dir.iterdir()) == []
    failed = client.get("/api/me/preset/sample").json()  # the last one that ran: how it ended
    assert failed["state"] == "failed" and failed["error"].startswith("notes.flac: ")


def test_a_sample_longer_than_allowed_is_413(client, sample, monkeypatch) -> None:  # noqa: ANN001
    audio, labels = sample
    monkeypatch.setattr(preset_tuning, "MAX_SAMPLE_MINUTES", 0.25)  # 15 s: the sample is 33 s
    response = tune_on(client, ("talk.flac", audio.read_bytes()), ("t.json", labels.read_bytes()))
    assert response.status_code == 413
    assert "talk.flac is longer than 0.25 min" in response.json()["detail"]
    assert client.get("/api/me/preset").json()["name"] == "default"


def test_a_labels_file_larger_than_allowed_is_413(client, sample, monkeypatch) -> None:  # noqa: ANN001
    audio, labels = sample
    monkeypatch.setattr(preset_tuning, "MAX_LABELS_MB", 0.1)  # the tests' upload limit is 1 MB
    padded = labels.read_bytes() + b" " * 200_000  # still valid JSON
    response = tune_on(client, ("talk.flac", audio.read_bytes()), ("t.json", padded))
    assert response.status_code == 413
    assert response.json()["detail"] == "the labels file is larger than 0.1 MB: is it labels?"
    assert client.get("/api/me/preset").json()["name"] == "default"


def test_progress_goes_from_decoding_to_searching() -> None:
    job = TuningJob(1, "talk.flac", "talk.json", total_s=10.0)
    assert job.progress()["state"] == "running"
    assert (job.progress()["phase"], job.progress()["fraction"]) == ("decoding", 0.0)
    job.on_block(np.zeros(5 * preset_tuning.SAMPLE_RATE, np.float32))
    assert job.progress()["fraction"] == 0.5
    job.on_option()
    assert job.progress()["phase"] == "searching"
    assert job.progress()["fraction"] == round(1 / search_size(), 3)
    with pytest.raises(SampleTooLong, match="longer than"):
        job.on_block(np.zeros(preset_tuning.MAX_SAMPLE_MINUTES * 60 * 16000, np.float32))


# -- the live speech light -----------------------------------------------------------------------
def record_live(client: TestClient, pcm: bytes) -> tuple[str, list[tuple[int, bool]]]:
    """(lecture id, [(windows done, speech light)] of each probabilities message), sending 8
    windows (0.26 s) at a time and waiting for their probabilities, as a microphone would."""
    lecture_id = client.post("/api/lectures", json={"title": "live"}).json()["id"]
    lights, step = [], 8 * 1024
    with client.websocket_connect(f"/api/lectures/{lecture_id}/live") as ws:
        assert ws.receive_json()["type"] == "ready"
        for offset in range(0, len(pcm) - step + 1, step):
            ws.send_bytes(struct.pack("<Q", offset) + pcm[offset : offset + step])
            while not lights or lights[-1][0] < (offset + step) // 1024:
                message = ws.receive_json()
                lights.append((message["first_window"] + len(message["probs"]), message["speech"]))
        ws.send_text(json.dumps({"type": "stop"}))
        while ws.receive_json()["type"] != "stopped":
            pass
    return lecture_id, lights


def test_the_live_speech_light_follows_the_preset(client, settings, lecture_pcm) -> None:  # noqa: ANN001
    lecture_id, lights = record_live(client, lecture_pcm)
    probs = storage.read_probs(storage.LectureFiles.of(settings.lectures_dir, lecture_id).probs)
    found = speech_segments(probs, VadOptions(), window_s=WINDOW_S)
    lit = [k * WINDOW_S for k, on in lights if on]
    late = VadOptions().min_silence_ms / 1000 + 2 * WINDOW_S  # it goes off once a pause is sure
    assert lit and all(any(s.start <= t <= s.end + late for s in found) for t in lit)
    assert all(any(s.start <= t <= s.end + late for t in lit) for s in found if s.duration > 1)

    # a preset that keeps none of this recording's speech: the light stays off
    none_kept = VadOptions(min_speech_ms=20_000)
    assert speech_segments(probs, none_kept, window_s=WINDOW_S) == []
    assert put_preset(client, file=preset_json(none_kept)).status_code == 200
    _, lights = record_live(client, lecture_pcm)
    assert lights and not any(on for _, on in lights)


def test_a_second_tuning_while_one_runs_is_409(client, sample, tmp_path) -> None:  # noqa: ANN001
    """A sample that takes seconds (the recording and 4 minutes of digital silence: a small
    FLAC); while it is tuned on, another is refused and the first still saves its preset."""
    audio, labels = sample
    long = tmp_path / "long.flac"
    ffmpeg("-i", audio, "-af", "apad=pad_dur=240", long)
    assert long.stat().st_size < 1024 * 1024
    files = {"audio": ("long.flac", long.read_bytes()), "labels": ("l.json", labels.read_bytes())}
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.post, "/api/me/preset/sample", files=files)
        while client.get("/api/me/preset/sample").json()["state"] != "running":
            assert not first.done(), first.result().text
            time.sleep(0.01)
        second = tune_on(client, ("talk.flac", audio.read_bytes()), ("t.json", labels.read_bytes()))
        assert second.status_code == 409, second.text
        assert "a preset is being tuned on long.flac: wait for it" in second.json()["detail"]
        assert first.result().status_code == 200
    assert client.get("/api/me/preset").json()["about"]["tuned_on"] == ["long.flac"]


def test_a_tuning_process_that_dies_is_one_line_and_changes_nothing(
    client, settings, sample, tmp_path
) -> None:  # noqa: ANN001
    """The search's process killed halfway (as the kernel's OOM killer would): a 500 with one
    line, the preset as it was, the sample removed, and the next tuning works."""
    audio, labels = sample
    long = tmp_path / "long.flac"
    ffmpeg("-i", audio, "-af", "apad=pad_dur=240", long)
    files = {"audio": ("long.flac", long.read_bytes()), "labels": ("l.json", labels.read_bytes())}
    assert put_preset(client, name="noisy room").status_code == 200
    with ThreadPoolExecutor(1) as pool:
        tuning = pool.submit(client.post, "/api/me/preset/sample", files=files)
        while not multiprocessing.active_children():
            assert not tuning.done(), tuning.result().text
            time.sleep(0.01)
        for child in multiprocessing.active_children():
            child.kill()
        response = tuning.result()
    assert response.status_code == 500
    assert response.json() == {"detail": "the tuning failed on the server: try again"}
    assert client.get("/api/me/preset").json()["name"] == "noisy room"
    assert client.get("/api/me/preset/sample").json()["state"] == "failed"
    assert list(settings.tmp_dir.iterdir()) == []
    again = tune_on(client, ("talk.flac", audio.read_bytes()), ("t.json", labels.read_bytes()))
    assert again.status_code == 200 and again.json()["name"] == "tuned"
