"""What one hostile account does to a running server (issue 12's findings), as plain functions
that return measured figures. tests/reliability/test_fair_use.py asserts on them; the figures in
docs/reliability.md come from the same functions run against the code before and after."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import numpy as np
from websockets.sync.client import connect

FRAME = 4096  # 128 ms of 16 kHz PCM16, what the page sends


def logged_in(url: str, email: str, password: str = "correct horse") -> httpx.Client:
    """A client signed up (or, if the account exists, logged in), with the CSRF header set."""
    http = httpx.Client(base_url=url, timeout=60)
    http.get("/health")
    http.headers["x-csrf-token"] = http.cookies["classrec_csrf"]
    body = {"email": email, "password": password}
    assert http.post("/api/auth/signup", json=body).status_code == 202  # new or taken alike
    assert http.post("/api/auth/login", json=body).status_code == 200
    return http


def latencies(http: httpx.Client, path: str, seconds: float, timeout: float = 10) -> list[float]:
    """GET `path` back to back for `seconds`; each answer's time in s (a timeout counts as
    `timeout`, an error status as infinity)."""
    found, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            ok = http.get(path, timeout=timeout).status_code == 200
            found.append(time.monotonic() - started if ok else float("inf"))
        except httpx.TimeoutException:
            found.append(float(timeout))
    return found


def p99(values: list[float]) -> float:
    return float(np.percentile(values, 99)) if values else float("nan")


def while_running(attack: Callable[[], object], victim: Callable[[], object]) -> tuple:
    """Run `attack` in a thread and `victim` here; returns (attack result, victim result)."""
    with ThreadPoolExecutor(1) as pool:
        attacking = pool.submit(attack)
        time.sleep(0.5)
        measured = victim()
        return attacking.result(), measured


# -- 1: slow uploads ---------------------------------------------------------------------------
def open_slow_uploads(
    http: httpx.Client,
    n: int,
    target: str = "/api/lectures/upload?filename=x.wav",
    content_type: str = "application/octet-stream",
    length: int = 4_000_000,
    first: bytes = b"R",
) -> list[socket.socket]:
    """`n` uploads to `target` declaring `length` bytes that send only `first`; the sockets
    stay open."""
    host, port = urlsplit(str(http.base_url)).hostname, urlsplit(str(http.base_url)).port
    cookies = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    head = (
        f"POST {target} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nCookie: {cookies}\r\n"
        f"X-CSRF-Token: {http.headers['x-csrf-token']}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    ).encode() + first
    sockets = []
    for _ in range(n):
        sock = socket.create_connection((host, port))
        sock.sendall(head)
        sockets.append(sock)
    return sockets


def trickle(sockets: list[socket.socket], seconds: float, every: float = 2.0) -> dict[int, int]:
    """Send one byte per socket every `every` s for `seconds`; returns status code → sockets
    that the server answered (0: no answer)."""
    answers: dict[int, int] = {}
    status = [0] * len(sockets)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for i, sock in enumerate(sockets):
            if status[i]:
                continue
            try:
                sock.sendall(b"I")
            except OSError:
                pass
            sock.setblocking(False)
            try:
                head = sock.recv(64)
                status[i] = int(head.split()[1]) if head.startswith(b"HTTP/") else -1
            except (BlockingIOError, OSError, IndexError, ValueError):
                pass
            sock.setblocking(True)
        time.sleep(every)
    for code in status:
        answers[code] = answers.get(code, 0) + 1
    return answers


# -- 2: live floods ----------------------------------------------------------------------------
def ws_open(url: str, http: httpx.Client, title: str):  # noqa: ANN201 - a websockets connection
    lecture = http.post("/api/lectures", json={"title": title}).json()["id"]
    ws_url = url.replace("http", "ws") + f"/api/lectures/{lecture}/live"
    cookie = f"classrec_session={http.cookies['classrec_session']}"
    ws = connect(ws_url, additional_headers={"Cookie": cookie}, open_timeout=30, max_size=None)
    assert json.loads(ws.recv(timeout=30))["type"] == "ready"
    return lecture, ws


def flood(ws, seconds: float, frame_bytes: int = 256 * 1024 - 8) -> int:  # noqa: ANN001
    """Send frames of noise back to back for `seconds` (reading nothing); returns bytes sent."""
    payload = (np.random.default_rng(0).integers(-3000, 3000, frame_bytes // 2)).astype("<i2")
    data, sent, end = payload.tobytes(), 0, time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            ws.send(struct.pack("<Q", sent) + data)
            sent += len(data)
    except Exception:  # noqa: BLE001 - the server may close the socket: that is an answer too
        pass
    return sent


def record_realtime(ws, pcm: bytes) -> dict:  # noqa: ANN001
    """Stream `pcm` as the page does (128 ms frames every 128 ms), stop, and count the windows
    whose probability arrived and the slowest acknowledgement."""
    probs: dict[int, float] = {}
    lags: list[float] = []
    sent_at: dict[int, float] = {}
    stop = threading.Event()

    def read() -> dict:
        while True:
            message = json.loads(ws.recv(timeout=120))
            if message["type"] == "probs":
                for i, p in enumerate(message["probs"]):
                    probs[message["first_window"] + i] = p
                acked = message["received_bytes"]
                lags.extend(time.monotonic() - t for o, t in list(sent_at.items()) if o <= acked)
                for o in [o for o in sent_at if o <= acked]:
                    sent_at.pop(o, None)
            if message["type"] in {"stopped", "error"} or stop.is_set():
                return message

    with ThreadPoolExecutor(1) as pool:
        reader = pool.submit(read)
        for offset in range(0, len(pcm), FRAME):
            chunk = pcm[offset : offset + FRAME]
            sent_at[offset + len(chunk) - len(chunk) % 1024] = time.monotonic()
            ws.send(struct.pack("<Q", offset) + chunk)
            time.sleep(FRAME / 32000)
        ws.send(json.dumps({"type": "stop"}))
        last = reader.result(timeout=180)
    windows = -(-len(pcm) // 1024)
    return {
        "windows": windows,
        "windows_with_probability": len(probs),
        "ended_with": last["type"],
        "ack_p99_s": round(p99(lags), 3),
    }


def victim(url: str, http: httpx.Client, pcm: bytes, seconds: float = 8) -> dict:
    """Another user during an attack: a live recording of `pcm` at real time and, meanwhile,
    `GET /api/lectures` back to back for `seconds`. What it could not do is reported, not
    raised, so a run against an unprotected server still measures."""
    try:
        _, ws = ws_open(url, http, "victim")
    except Exception as exc:  # noqa: BLE001 - e.g. no database connection for 30 s
        waits = latencies(http, "/api/lectures", seconds)
        return {"victim_error": type(exc).__name__, "other_user_p99_s": round(p99(waits), 3)}
    with ws, ThreadPoolExecutor(1) as pool:
        recording = pool.submit(record_realtime, ws, pcm)
        waits = latencies(http, "/api/lectures", seconds)
        recorded = recording.result()
    return {**recorded, "other_user_p99_s": round(p99(waits), 3), "other_user_requests": len(waits)}


def unhurt(figures: dict) -> bool:
    """The victim's recording got every window's probability in time and its requests p99 < 1 s."""
    return (
        figures.get("windows_with_probability", -1) == figures.get("windows")
        and figures.get("ended_with") == "stopped"
        and figures.get("ack_p99_s", 99) < 1
        and figures["other_user_p99_s"] < 1
    )


def fd_count(pid: int) -> int:
    from pathlib import Path

    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def rss_mb(pid: int) -> float:
    from pathlib import Path

    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
