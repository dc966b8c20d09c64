"""Web upload end to end: a 60-minute MP3 through a real server, against `classrec detect`.

A fresh web app (`python -m classrec.web`, 127.0.0.1, data in a temporary folder) gets the file
as a real HTTP upload (the raw body, as the page sends it). The upload answers once the lecture
is decoded, stored and analysed: it is then playable (the player gets the 16 kHz WAV) with its
regions. The compact player file (Opus in WebM) is made afterwards in the background; the time
until it exists is reported too. Server CPU comes from /proc; the reference is `classrec detect`
on the same file (CPU of its process), measured in the same run.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import time
from pathlib import Path

from bench.common import Context, Section, table
from bench.decode import MP3_44K, classrec_detect, cpu_s, media_file, scratch_folder
from bench.live import COOKIE, CSRF, _request, proc_cpu_s, server

FORMAT = MP3_44K
"""A recorder's export: MP3, 44.1 kHz stereo, 128 kb/s."""
PLAYBACK_WAIT_S = 600.0
BLOCK_BYTES = 1 << 20


def _log_in(port: int) -> str:
    """A new account's session cookie: signed up, then logged in where the signup answers
    without a session (it says the same for a new and an existing e-mail)."""
    body = {"email": "bench@example.com", "password": "bench-password-1"}
    status, cookie = _request(port, "POST", "/api/auth/signup", body)
    if not cookie.startswith(COOKIE):
        status, cookie = _request(port, "POST", "/api/auth/login", body)
    if not cookie.startswith(COOKIE):
        raise RuntimeError(f"log in failed: {status} {cookie[:200]}")
    return cookie


def upload(port: int, cookie: str, path: Path) -> dict:
    """POST the file as the upload body; the lecture as the server answers it (201)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PLAYBACK_WAIT_S)
    conn.blocksize = BLOCK_BYTES
    headers = {
        "Cookie": f"classrec_csrf={CSRF}; {cookie}",
        "X-CSRF-Token": CSRF,
        "Content-Length": str(path.stat().st_size),
        "Content-Type": "application/octet-stream",
    }
    with path.open("rb") as body:
        conn.request("POST", f"/api/lectures/upload?filename={path.name}", body, headers)
        resp = conn.getresponse()
        data = resp.read()
    conn.close()
    if resp.status != 201:
        raise RuntimeError(f"upload failed: {resp.status} {data[:300]!r}")
    return json.loads(data)


def _wait_for(path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path.name} not made within {timeout_s:.0f} s")
        time.sleep(0.1)


def measure(path: Path) -> dict[str, float]:
    """Wall and server CPU seconds: upload → lecture ready, and → Opus player file made."""
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp)) as (port, pid):
        cookie = _log_in(port)
        cpu0, wall0 = proc_cpu_s(pid), time.perf_counter()
        lecture = upload(port, cookie, path)
        ready_wall, ready_cpu = time.perf_counter() - wall0, proc_cpu_s(pid) - cpu0
        _wait_for(Path(tmp) / "lectures" / lecture["id"] / "playback.webm", PLAYBACK_WAIT_S)
        player_wall, player_cpu = time.perf_counter() - wall0, proc_cpu_s(pid) - cpu0
    return {
        "duration_s": lecture["duration_s"],
        "ready_wall_s": ready_wall,
        "ready_cpu_s": ready_cpu,
        "player_wall_s": player_wall,
        "player_cpu_s": player_cpu,
    }


def run(ctx: Context) -> Section:
    path = media_file(ctx, FORMAT)
    wall0 = time.perf_counter()
    detect_cpu = cpu_s(classrec_detect(path, scratch_folder() / "upload-detect.json"))
    detect_wall = time.perf_counter() - wall0
    got = measure(path)
    minutes = got["duration_s"] / 60

    def row(what: str, wall: float, cpu: float) -> list[str]:
        return [what, f"{wall:.1f}", f"{cpu:.1f}", f"{cpu / detect_cpu:.1f}×"]

    rows = [
        row("`classrec detect` of the same file", detect_wall, detect_cpu),
        row("upload → lecture playable (WAV, regions)", got["ready_wall_s"], got["ready_cpu_s"]),
        row(
            "upload → Opus player file made (background)",
            got["player_wall_s"],
            got["player_cpu_s"],
        ),
    ]
    body = (
        f"A {minutes:.0f}-minute {FORMAT.name} "
        f"({'the test fixture' if ctx.quick else 'held-out LibriSpeech test-other'} tiled), "
        "uploaded over HTTP on 127.0.0.1 to a fresh `python -m classrec.web` (SQLite, temporary "
        "data folder). Wall time from the first byte sent; CPU of the server process (/proc) "
        "over the same span; the ratio is CPU against `classrec detect` on the same file, same "
        "run. The upload answers when the lecture is stored and analysed (playable: the page "
        "plays the 16 kHz WAV until the Opus file exists).\n\n"
        + table(["step", "wall s", "CPU s", "CPU vs classrec detect"], rows)
    )
    results = {**got, "detect_cpu_s": detect_cpu, "detect_wall_s": detect_wall}
    return Section("Web upload end to end", body, results=results)
