"""The live WebSocket: probabilities equal an offline pass, resends are idempotent, reconnects
resume, and every kind of bad message gets a clear close code without harming other streams."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from classrec.web.analysis import detector
from classrec.web.hub import step_batch

CHUNK = 4096


def new_lecture(client: TestClient) -> str:
    return client.post("/api/lectures", json={"title": "live"}).json()["id"]


def frame(pcm: bytes, offset: int, size: int = CHUNK) -> bytes:
    return struct.pack("<Q", offset) + pcm[offset : offset + size]


def send_all(ws, pcm: bytes, start: int = 0, stop: int | None = None) -> None:  # noqa: ANN001
    for offset in range(start, stop if stop is not None else len(pcm), CHUNK):
        ws.send_bytes(frame(pcm, offset, min(CHUNK, (stop or len(pcm)) - offset)))


def finish(ws) -> tuple[list[float], dict]:  # noqa: ANN001
    """Send stop; collect the probabilities until `stopped`."""
    ws.send_text(json.dumps({"type": "stop"}))
    probs: list[float] = []
    while (message := ws.receive_json())["type"] != "stopped":
        if message["type"] == "probs":
            probs.extend(message["probs"])
    return probs, message


def closed_with(ws) -> tuple[dict, int]:  # noqa: ANN001
    """The error message the server sent and the close code that followed."""
    message = ws.receive_json()
    while message["type"] != "error":
        message = ws.receive_json()
    with pytest.raises(WebSocketDisconnect) as exc:
        ws.receive_json()
    return message, exc.value.code


def test_step_batch_equals_one_stream_at_a_time(lecture_pcm: bytes) -> None:
    det = detector()
    pcm = np.frombuffer(lecture_pcm, "<i2")
    windows = pcm[: len(pcm) // 512 * 512].reshape(-1, 512)
    jobs = [(det.initial_state(1), windows[:n]) for n in (40, 7, 0, 25)]
    for (probs, _), (_, w) in zip(step_batch(det, jobs), jobs, strict=True):
        np.testing.assert_allclose(
            probs, det.probabilities(w.reshape(-1), sample_rate=16000), atol=1e-5
        )


def test_two_live_streams_match_offline_detection(client: TestClient, lecture_pcm) -> None:  # noqa: ANN001
    ids = [new_lecture(client), new_lecture(client)]
    with client.websocket_connect(f"/api/lectures/{ids[0]}/live") as a, \
         client.websocket_connect(f"/api/lectures/{ids[1]}/live") as b:  # fmt: skip
        assert a.receive_json()["type"] == b.receive_json()["type"] == "ready"
        half = len(lecture_pcm) // 2 // CHUNK * CHUNK
        send_all(a, lecture_pcm, 0, half)
        send_all(b, lecture_pcm)
        send_all(a, lecture_pcm, half)
        results = [finish(a), finish(b)]
    offline = detector().probabilities(np.frombuffer(lecture_pcm, "<i2"), sample_rate=16000)
    for lecture_id, (probs, stopped) in zip(ids, results, strict=True):
        assert stopped["received_bytes"] == len(lecture_pcm)
        np.testing.assert_allclose(probs, offline, atol=2e-4)  # messages round to 4 digits
        stored = client.get(f"/api/lectures/{lecture_id}/audio").content
        assert stored[44:] == lecture_pcm
        assert client.get(f"/api/lectures/{lecture_id}").json()["status"] == "ready"


def test_resends_are_idempotent_and_reconnect_resumes(client: TestClient, lecture_pcm) -> None:  # noqa: ANN001
    lecture_id = new_lecture(client)
    url = f"/api/lectures/{lecture_id}/live"
    with client.websocket_connect(url) as ws:
        ws.receive_json()
        send_all(ws, lecture_pcm, 0, 5 * CHUNK)
        ws.send_bytes(frame(lecture_pcm, 2 * CHUNK))  # duplicate: ignored
        ws.send_bytes(frame(lecture_pcm, 4 * CHUNK + 100, 2 * CHUNK))  # overlap: tail kept
        ws.send_text(json.dumps({"type": "ping"}))
        while (message := ws.receive_json())["type"] != "pong":
            pass
        assert message["received_bytes"] == 6 * CHUNK + 100
    with client.websocket_connect(url) as ws:  # dropped connection: the page comes back
        ready = ws.receive_json()
        assert ready["received_bytes"] == 6 * CHUNK + 100
        send_all(ws, lecture_pcm, ready["received_bytes"])
        _, stopped = finish(ws)
    assert stopped["received_bytes"] == len(lecture_pcm)
    assert client.get(f"/api/lectures/{lecture_id}/audio").content[44:] == lecture_pcm


@pytest.mark.parametrize(
    ("send", "code", "kind"),
    [
        (lambda ws: ws.send_text("hello"), 4400, "bad_message"),
        (lambda ws: ws.send_text('{"type": "rm -rf"}'), 4400, "bad_message"),
        (lambda ws: ws.send_bytes(b"\x00" * 8 + b"\x01"), 4400, "bad_frame"),
        (lambda ws: ws.send_bytes(b"\x00\x01"), 4400, "bad_frame"),
        (lambda ws: ws.send_bytes(struct.pack("<Q", 999) + b"\0\0"), 4400, "gap"),
        (lambda ws: ws.send_bytes(b"\0" * (300 * 1024)), 4413, "too_large"),
    ],
)
def test_malformed_messages_close_with_a_clear_code(client, lecture_pcm, send, code, kind) -> None:  # noqa: ANN001
    healthy, broken = new_lecture(client), new_lecture(client)
    with client.websocket_connect(f"/api/lectures/{healthy}/live") as good:
        good.receive_json()
        send_all(good, lecture_pcm, 0, 4 * CHUNK)
        with client.websocket_connect(f"/api/lectures/{broken}/live") as bad:
            bad.receive_json()
            send(bad)
            message, closed = closed_with(bad)
        assert (message["code"], closed) == (kind, code)
        send_all(good, lecture_pcm, 4 * CHUNK)  # the other stream is unaffected
        _, stopped = finish(good)
    assert stopped["received_bytes"] == len(lecture_pcm)
    assert client.get(f"/api/lectures/{healthy}/audio").content[44:] == lecture_pcm


def test_sockets_check_login_owner_origin_and_state(app, client, other_client) -> None:  # noqa: ANN001
    lecture_id = new_lecture(client)
    url = f"/api/lectures/{lecture_id}/live"
    own = client.cookies["classrec_session"]
    for session, code in [("forged", 4401), (other_client.cookies["classrec_session"], 4404)]:
        client.cookies.set("classrec_session", session)
        with client.websocket_connect(url) as ws:
            assert closed_with(ws)[1] == code
    client.cookies.set("classrec_session", own)
    with client.websocket_connect(url, headers={"origin": "https://evil.example"}) as ws:
        assert closed_with(ws)[1] == 4403
    with client.websocket_connect(url) as ws:
        ws.receive_json()
        finish(ws)
        with pytest.raises(WebSocketDisconnect) as exc:  # messages after stop: socket is closed
            ws.send_bytes(b"\0" * 10)
            ws.receive_json()
        assert exc.value.code == 1000
    with client.websocket_connect(url) as ws:  # a finished lecture cannot be appended to
        assert closed_with(ws)[1] == 4409
