"""The live socket under hostile and broken clients: random and malformed frames in any order,
floods, a client that stops reading, clients that vanish mid-frame. Whatever one socket does,
another concurrent stream still gets all its probabilities and its stored audio is byte-exact,
and what the hostile stream had sent correctly is stored intact.

tests/web/test_live.py checks each malformed message once; here they come at random, mixed with
valid audio, many sessions in a row, and against a real server for the network-level faults.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from conftest import report
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from web.test_durability import open_socket
from web.test_live import CHUNK, finish, frame, new_lecture, send_all

CLOSES = {1000: "stopped", 4400: "bad", 4413: "too_large"}
ERRORS = {"bad_message", "bad_frame", "gap", "too_large"}
Action = Callable[[object, bytes, int, random.Random], int]
"""Sends something on a socket; gets (ws, pcm, server's byte count, rng); returns the new count."""


def valid_audio(ws, pcm: bytes, received: int, rng: random.Random) -> int:  # noqa: ANN001
    size = rng.choice([2, 512, CHUNK, 3 * CHUNK])
    ws.send_bytes(frame(pcm, received, size))
    return min(received + size, len(pcm))


def resend_old(ws, pcm: bytes, received: int, rng: random.Random) -> int:  # noqa: ANN001
    offset = rng.randint(0, received) // 2 * 2
    ws.send_bytes(frame(pcm, offset, CHUNK))
    return max(received, min(len(pcm), offset + CHUNK))  # the overlapping tail is appended


def random_bytes(ws, pcm: bytes, received: int, rng: random.Random) -> int:  # noqa: ANN001
    ws.send_bytes(rng.randbytes(rng.choice([0, 1, 7, 9, 64, 1001])))
    return received


BAD_TEXTS = ['{"type": 1}', "[]", "null", '{"type": "STOP"}', "\x00" * 5, '{"type": "ping"',
             "é" * 100, json.dumps({"type": ["stop"]}), json.dumps({"type": {"a": 1}})]  # fmt: skip


def random_text(ws, pcm: bytes, received: int, rng: random.Random) -> int:  # noqa: ANN001
    ws.send_text(rng.choice(BAD_TEXTS))
    return received


def bad_offset(ws, pcm: bytes, received: int, rng: random.Random) -> int:  # noqa: ANN001
    offset = rng.choice([received + 2, 2**63, 2**64 - 1])
    ws.send_bytes(struct.pack("<Q", offset) + b"\0\0")
    return received


def oversized(ws, pcm: bytes, received: int, rng: random.Random) -> int:  # noqa: ANN001
    ws.send_bytes(struct.pack("<Q", received) + bytes(300 * 1024))
    return received


def ping_flood(ws, pcm: bytes, received: int, rng: random.Random) -> int:  # noqa: ANN001
    for _ in range(200):  # sent before reading any answer, then all answers read
        ws.send_text('{"type": "ping"}')
    pongs = 0
    while pongs < 200:
        pongs += ws.receive_json()["type"] == "pong"
    return received


def early_stop(ws, pcm: bytes, received: int, rng: random.Random) -> int:  # noqa: ANN001
    ws.send_text('{"type": "stop"}')
    return received


ACTIONS: list[Action] = [valid_audio] * 6 + [resend_old] * 2 + [ping_flood] + [
    random_bytes, random_text, bad_offset, oversized, early_stop
]  # fmt: skip


def outcome_after(ws) -> tuple[str, int | None]:  # noqa: ANN001
    """Ping, then read until the pong (still open) or the close that an error/stop caused."""
    try:
        ws.send_text('{"type": "ping"}')
        while True:
            message = ws.receive_json()
            if message["type"] == "pong":
                return "open", None
            if message["type"] in {"error", "stopped"}:
                kind = message.get("code", "stopped")
                with pytest.raises(WebSocketDisconnect) as closed:
                    while True:
                        ws.receive_json()
                return kind, closed.value.code
    except WebSocketDisconnect as exc:
        return "closed", exc.code


def hostile_session(client: TestClient, pcm: bytes, rng: random.Random, tally: Counter) -> None:
    """One lecture fed random actions until the server closes it; what it stored is intact."""
    lecture_id = new_lecture(client)
    received = 0
    with client.websocket_connect(f"/api/lectures/{lecture_id}/live") as ws:
        assert ws.receive_json()["type"] == "ready"
        for _ in range(rng.randint(1, 12)):
            action = rng.choice(ACTIONS)
            received = action(ws, pcm, received, rng)
            tally["frames"] += 1
            kind, code = outcome_after(ws)
            if kind != "open":
                assert kind in ERRORS | {"stopped"} and code in CLOSES, (action.__name__, kind)
                tally[f"close_{code}"] += 1
                break
    stored = client.get(f"/api/lectures/{lecture_id}/audio")
    if stored.status_code == 200:  # stopped: a valid WAV holding exactly the accepted prefix
        assert stored.content[44:] == pcm[: len(stored.content) - 44]
        assert len(stored.content) - 44 == received
    tally["sessions"] += 1


def test_random_hostile_sessions_never_harm_another_stream(client: TestClient, lecture_pcm) -> None:  # noqa: ANN001
    rng, tally = random.Random(11), Counter()
    healthy = new_lecture(client)
    step = len(lecture_pcm) // 40 // CHUNK * CHUNK
    with client.websocket_connect(f"/api/lectures/{healthy}/live") as good:
        assert good.receive_json()["type"] == "ready"
        for i in range(40):
            send_all(good, lecture_pcm, i * step, (i + 1) * step)
            hostile_session(client, lecture_pcm, rng, tally)
        send_all(good, lecture_pcm, 40 * step)
        probs, stopped = finish(good)
    assert stopped["received_bytes"] == len(lecture_pcm)
    assert len(probs) == -(-len(lecture_pcm) // 1024)  # every window, the last one padded
    assert client.get(f"/api/lectures/{healthy}/audio").content[44:] == lecture_pcm
    report("websocket random sessions", **tally)


# -- a real server: clients that stop reading or vanish --------------------------------------
def raw_frame_start(sock: socket.socket, length: int, first: bytes) -> None:
    """Write a masked binary WebSocket frame header declaring `length` bytes, then only `first`."""
    header = bytes([0x82, 0xFE]) + struct.pack(">H", length) + b"\0\0\0\0"  # zero mask
    sock.sendall(header + first)


def realtime_stream(ws, pcm: bytes, speed: float, acks: list[int]) -> None:  # noqa: ANN001
    """Send as the page does (128 ms frames), `speed` times real time, reading acknowledgements."""
    for offset in range(0, len(pcm), CHUNK):
        ws.send(struct.pack("<Q", offset) + pcm[offset : offset + CHUNK])
        time.sleep(CHUNK / 32000 / speed)
        while True:
            try:
                message = json.loads(ws.recv(timeout=0))
            except TimeoutError:
                break
            acks.append(message.get("received_bytes", 0))


@pytest.mark.slow
def test_slow_and_vanishing_clients_on_a_real_server(five_stream_server, lecture_pcm) -> None:  # noqa: ANN001
    server = five_stream_server  # four streams of one account, over the default limit of three
    pcm = lecture_pcm[: len(lecture_pcm) // CHUNK * CHUNK]
    with httpx.Client(base_url=server.url) as http:
        signup_client(http)
        ids = [http.post("/api/lectures", json={"title": t}).json()["id"] for t in "abcd"]
        good, slow, vanish, half = (open_socket(server, http, i) for i in ids)
        for ws in (good, slow, vanish, half):
            assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        for ws in (vanish, half):
            ws.send(struct.pack("<Q", 0) + pcm[:CHUNK])
            wait_acked(ws, CHUNK)
        vanish.socket.close()  # gone without a close frame
        partial = struct.pack("<Q", CHUNK) + pcm[CHUNK : CHUNK + CHUNK // 2]
        raw_frame_start(half.socket, CHUNK + 8, partial)  # declares a whole frame, sends half
        half.socket.close()  # gone in the middle of a frame
        flood = threading.Thread(target=slow_reader_flood, args=(slow, pcm))
        flood.start()
        acks: list[int] = []
        realtime_stream(good, pcm, speed=4.0, acks=acks)
        good.send(json.dumps({"type": "stop"}))
        while (message := json.loads(good.recv(timeout=20)))["type"] != "stopped":
            pass
        flood.join(60)
        assert message["received_bytes"] == len(pcm) and acks
        assert http.get(f"/api/lectures/{ids[0]}/audio").content[44:] == pcm
        stored = [resume_and_stop(server, http, i) for i in ids[1:]]
    assert stored[0] == pcm  # the slow reader's audio all arrived
    assert stored[1] == pcm[:CHUNK] and stored[2] == pcm[:CHUNK]  # the half frame is not stored
    report("websocket real server", slow_reader_bytes=len(pcm), vanished_clients=2, lost_bytes=0)


@pytest.mark.slow
def test_the_stream_limit_holds_for_sockets_opened_at_once(server, lecture_pcm) -> None:  # noqa: ANN001
    """Four sockets of one account connect before any is answered: with the default limit of
    three, three record and one is refused, however the openings interleave."""
    with httpx.Client(base_url=server.url) as http:
        signup_client(http)
        ids = [http.post("/api/lectures", json={"title": t}).json()["id"] for t in "abcd"]
        sockets = [open_socket(server, http, i) for i in ids]
        answers = [json.loads(ws.recv(timeout=10)) for ws in sockets]
        for ws in sockets:
            ws.close()
    kinds = Counter(a.get("code", a["type"]) for a in answers)
    assert kinds == {"ready": 3, "too_many_streams": 1}, answers
    report("websocket real server", streams_opened_at_once=4, refused=kinds["too_many_streams"])


def slow_reader_flood(ws, pcm: bytes) -> None:  # noqa: ANN001
    """Send all audio and 20 pings per frame as fast as possible, read nothing for 3 s (the
    server's queue for it overflows), then catch up and leave without stopping."""
    for offset in range(0, len(pcm), CHUNK):
        ws.send(struct.pack("<Q", offset) + pcm[offset : offset + CHUNK])
        for _ in range(20):
            ws.send('{"type": "ping"}')
    time.sleep(3)
    wait_acked(ws, len(pcm))
    ws.close()


def wait_acked(ws, size: int) -> None:  # noqa: ANN001
    """Read until the server acknowledges `size` bytes (asking with a ping if need be)."""
    ws.send('{"type": "ping"}')
    while json.loads(ws.recv(timeout=20)).get("received_bytes", -1) < size:
        pass


def resume_and_stop(server, http: httpx.Client, lecture_id: str) -> bytes:  # noqa: ANN001
    """Reconnect to a recording its client left, stop it, and return the stored audio."""
    for _ in range(50):  # the server may not have noticed the old socket is gone yet
        with open_socket(server, http, lecture_id) as ws:
            ready = json.loads(ws.recv(timeout=10))
            ws.send(json.dumps({"type": "stop"}))
            while (message := json.loads(ws.recv(timeout=20)))["type"] not in {"stopped", "error"}:
                pass
        if message["type"] == "stopped":
            assert message["received_bytes"] == ready["received_bytes"]
            return http.get(f"/api/lectures/{lecture_id}/audio").content[44:]
        time.sleep(0.1)
    raise AssertionError(f"could not stop {lecture_id}")


def signup_client(http: httpx.Client) -> None:
    from conftest import signup

    signup(http, "sockets@example.org")
