"""Faults: the server killed with -9 during five recordings, the disk filling up, the database
busy with concurrent writers. Nothing already stored may be lost or corrupted; what is lost in
flight is measured against what the clients sent.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import shutil
import sqlite3
import struct
import subprocess
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import LECTURE, ServerProcess, report, signup
from sqlite_writers import ROWS, hold_write_lock, write_rows
from web.test_durability import open_socket
from websockets.exceptions import ConnectionClosed

from classrec.audio import load_audio
from classrec.web import crud
from classrec.web.db import Database, migrate
from classrec.web.storage import to_pcm16

CHUNK = 4096  # 128 ms of 16 kHz PCM16, what the page sends
BYTES_PER_S = 32000
STREAMS = 5


def pace(sockets: list, pcm: bytes, seconds: float) -> list[int]:  # noqa: ANN001
    """Send one page-sized frame to every socket every 128 ms (a live microphone each), the
    streams starting 0.3 s apart so they are cut at different points; returns bytes sent."""
    sent = [0] * len(sockets)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        elapsed = time.monotonic() - started
        for k, ws in enumerate(sockets):
            if elapsed >= 0.3 * k and sent[k] + CHUNK <= len(pcm):
                ws.send(struct.pack("<Q", sent[k]) + pcm[sent[k] : sent[k] + CHUNK])
                sent[k] += CHUNK
        time.sleep(CHUNK / BYTES_PER_S)
    return sent


@pytest.mark.slow
def test_kill9_during_five_recordings(
    five_stream_server: ServerProcess, lecture_pcm: bytes
) -> None:
    server = five_stream_server
    pcm = lecture_pcm * 2
    with httpx.Client(base_url=server.url, timeout=30) as http:
        signup(http, "five@example.org")
        ids = [http.post("/api/lectures", json={"title": f"s{k}"}).json()["id"] for k in range(5)]
        sockets = [open_socket(server, http, i) for i in ids]
        for ws in sockets:
            assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        sent = pace(sockets, pcm, seconds=4.0)
        server.kill9()  # while the frames are still arriving
        for ws in sockets:
            ws.socket.close()
        server.start()
        listed = {x["id"]: x for x in http.get("/api/lectures").json()}
        losses = [
            lost_seconds(http, server, *case, pcm, listed) for case in zip(ids, sent, strict=True)
        ]
    report(
        "kill -9 during 5 live recordings",
        streams=STREAMS,
        sent_s=[n / BYTES_PER_S for n in sent],
        lost_max_s=max(losses),
        lost_mean_s=round(sum(losses) / len(losses), 4),
    )
    assert max(losses) <= 1.0


def lost_seconds(http, server, lecture_id, sent, pcm, listed) -> float:  # noqa: ANN001
    """Check one recording after the restart and return how much of what was sent is missing."""
    assert listed[lecture_id]["status"] == "interrupted"
    audio = http.get(f"/api/lectures/{lecture_id}/audio")
    assert audio.status_code == 200
    path = server.data_dir.parent / f"{lecture_id}.wav"
    path.write_bytes(audio.content)
    stored = to_pcm16(load_audio(path)).tobytes()  # playable: the library decodes it
    assert stored == audio.content[44:] == pcm[: len(stored)]  # an exact prefix, not corrupted
    return (sent - len(stored)) / BYTES_PER_S


# -- disk full -----------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path):  # noqa: ANN201
    """A 3 MB tmpfs for the data dir (needs root; skipped where mounting is not allowed)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if (
        shutil.which("mount") is None
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True
        ).returncode
    ):
        pytest.skip("cannot mount a tmpfs here (not root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_disk_full_stops_recording_cleanly(small_disk: Path, lecture_pcm: bytes) -> None:
    server = ServerProcess(small_disk / "data")
    server.log = small_disk.parent / "server.log"
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            signup(http, "full@example.org")
            kept = http.post("/api/lectures/upload", params={"filename": "a.flac"},
                             content=LECTURE.read_bytes())  # fmt: skip
            assert kept.status_code == 201
            before = http.get(f"/api/lectures/{kept.json()['id']}/audio").content
            error, code, sent = record_until_full(server, http, lecture_pcm)
            assert (error["code"], code) == ("storage", 4507), (error, code)
            assert "could not store" in error["message"]
            upload = http.post("/api/lectures/upload", params={"filename": "b.flac"},
                               content=LECTURE.read_bytes())  # fmt: skip
            assert upload.status_code == 507 and "full" in upload.json()["detail"]
            assert http.get(f"/api/lectures/{kept.json()['id']}/audio").content == before
    finally:
        server.stop()
    report("disk full (3 MB tmpfs)", sent_before_full_s=round(sent / BYTES_PER_S, 1),
           close_code=code, earlier_lecture_intact=True)  # fmt: skip


def record_until_full(server, http, pcm: bytes) -> tuple[dict, int, int]:  # noqa: ANN001
    """Stream audio (the clip looped) as fast as the socket takes it until the server refuses;
    returns its error message, the close code and the bytes sent. Checks that the part stored
    on disk is an exact prefix of what was sent."""
    lecture_id = http.post("/api/lectures", json={"title": "too long"}).json()["id"]
    looped = pcm * 40
    with open_socket(server, http, lecture_id) as ws:
        ws.recv(timeout=10)
        sent = 0
        with contextlib.suppress(ConnectionClosed):
            while sent < len(looped):
                ws.send(struct.pack("<Q", sent) + looped[sent : sent + CHUNK])
                sent += CHUNK
        messages = []
        with contextlib.suppress(ConnectionClosed):
            while True:
                messages.append(json.loads(ws.recv(timeout=20)))
    stored = (server.data_dir / "lectures" / lecture_id / "audio.wav").read_bytes()[44:]
    assert 0 < len(stored) < sent and stored == looped[: len(stored)]
    error = next(m for m in messages if m["type"] == "error")
    return error, ws.close_code, sent


# -- database busy -------------------------------------------------------------------------------
WRITERS = 3


def test_concurrent_writers_lose_no_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.sqlite3'}"
    db = Database(url)
    migrate(db.engine)
    with db.session() as session:
        user = crud.create_user(session, "busy@example.org", "correct horse")
        lecture_id = crud.create_lecture(session, user, "busy", "upload", status="ready").id
    hold = threading.Thread(target=hold_write_lock, args=(tmp_path / "busy.sqlite3", 2.0))
    hold.start()  # a writer that keeps the lock 2 s: the others must wait, not fail
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=write_rows, args=(url, lecture_id, w)) for w in range(WRITERS)]
    threads = [
        threading.Thread(target=write_rows, args=(url, lecture_id, 10 + t)) for t in range(2)
    ]
    for worker in (*procs, *threads):
        worker.start()
    for worker in (*procs, *threads):
        worker.join(120)
    hold.join()
    assert all(p.exitcode == 0 for p in procs)
    with sqlite3.connect(tmp_path / "busy.sqlite3") as conn:
        notes = [row[0] for row in conn.execute("SELECT note FROM bookmarks")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    expected = (WRITERS + 2) * ROWS
    assert len(notes) == len(set(notes)) == expected and mode == "wal"
    report("sqlite concurrent writers", processes=WRITERS, threads=2, rows=expected,
           lost_rows=expected - len(notes), lock_held_s=2.0)  # fmt: skip


def test_pcm_helper_is_exact() -> None:
    """The loss measure above relies on decode(WAV) == stored PCM bit for bit."""
    pcm = (np.arange(-32768, 32768, 7, dtype=np.int32)).astype("<i2")
    assert (to_pcm16(pcm.astype(np.float32) / 32768) == pcm).all()
