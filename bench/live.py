"""4. Live server under load: N WebSocket streams at real-time pace against the web app.

The server (`python -m classrec.web`, a fresh one per N, on 127.0.0.1 only, data in a temporary
folder) runs in its own process; this process is the load generator. Each stream sends real
speech as PCM16 in chunks of random 20–100 ms, each chunk sent when its last sample would have
been recorded (real-time pace), following the protocol of docs/web.md: binary frames
`<uint64 LE byte offset><PCM16>`, then `{"type": "stop"}`; the server answers `probs` messages.

Latency of a window = time its probability arrives − time the chunk holding its last sample was
sent. Lost = windows never scored plus bytes the server never acknowledged (must both be 0).
Server CPU (% of one core) and RSS come from /proc of the server process.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.common import SAMPLE_RATE, WINDOW, Context, Section, figure, table
from classrec.lab.peers import to_int16

COUNTS = [10, 100, 250, 500, 1000]
SECONDS = 20.0  # streaming time per stream for each N
OFFSET = struct.Struct("<Q")
COOKIE = "classrec_session"


@dataclass
class StreamResult:
    latencies: list[float] = field(default_factory=list)
    windows_expected: int = 0
    windows_scored: int = 0
    bytes_sent: int = 0
    bytes_acked: int = 0
    error: str | None = None


# -- server ------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CSRF = "bench-csrf-token-0123456789abcdef"  # double-submit: the same value in cookie and header


def _request(port: int, method: str, path: str, body: dict, cookie: str = "") -> tuple[int, str]:
    """One JSON request; returns (status, the session cookie if the server set one, else body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    cookies = "; ".join(c for c in (f"classrec_csrf={CSRF}", cookie) if c)
    headers = {"Content-Type": "application/json", "Cookie": cookies, "X-CSRF-Token": CSRF}
    conn.request(method, path, json.dumps(body), headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    set_cookies = [c.split(";")[0] for c in resp.msg.get_all("set-cookie") or []]
    if any(c.startswith(COOKIE + "=") for c in set_cookies):  # the login and its CSRF binding
        return resp.status, "; ".join(c for c in set_cookies if not c.startswith("classrec_csrf="))
    return resp.status, data.decode()


@contextlib.contextmanager
def server(data_dir: Path):
    """A fresh web app process on 127.0.0.1; yields (port, pid). Killed on exit."""
    port = _free_port()
    env = {
        **os.environ,
        "CLASSREC_DATA_DIR": str(data_dir),
        "CLASSREC_HOST": "127.0.0.1",
        "CLASSREC_PORT": str(port),
        "CLASSREC_LOG_LEVEL": "WARNING",
        "CLASSREC_STREAMS_PER_USER": "100000",  # one bench account feeds every stream
    }
    # stderr to a file, not a pipe: nobody reads a pipe during the run, and once its 64 KiB
    # fill up every log line blocks the server (streams then hang waiting for `stopped`)
    log_path = data_dir / "server.log"
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "classrec.web"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"web app did not start: {log_path.read_text()[-800:]}")
            time.sleep(0.2)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_file.close()


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB (Linux /proc)."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


# -- load generator ----------------------------------------------------------------------------
async def _receive(ws, sent_ends: list[int], sent_at: list[float], result: StreamResult) -> None:
    """Collect probabilities until `stopped`, timing each window against its chunk's send."""
    async for raw in ws:
        msg = json.loads(raw)
        now = time.perf_counter()
        if msg["type"] == "probs":
            for k in range(len(msg["probs"])):
                end = (msg["first_window"] + k + 1) * WINDOW  # one past the window's last sample
                i = bisect.bisect_left(sent_ends, end)
                if i < len(sent_at):
                    result.latencies.append(now - sent_at[i])
            result.windows_scored += len(msg["probs"])
            result.bytes_acked = max(result.bytes_acked, msg["received_bytes"])
        elif msg["type"] == "stopped":
            return
        elif msg["type"] == "error":
            result.error = msg.get("code", "error")
            return


async def one_stream(
    port: int, cookie: str, lecture: str, pcm: np.ndarray, delay: float, rng: np.random.Generator
) -> StreamResult:
    """Feed one lecture at real-time pace, then stop and wait for the last probabilities."""
    import websockets

    result = StreamResult()
    await asyncio.sleep(delay)
    uri = f"ws://127.0.0.1:{port}/api/lectures/{lecture}/live"
    stage = "connecting"  # named in the error, so a failure says where it happened
    try:
        async with websockets.connect(
            uri,
            additional_headers={"Cookie": cookie},
            max_size=None,
            open_timeout=60,
            ping_interval=None,
        ) as ws:
            stage = "waiting for ready"
            ready = json.loads(await ws.recv())
            if ready["type"] != "ready":
                raise RuntimeError(ready)
            sent_ends: list[int] = []
            sent_at: list[float] = []
            receiver = asyncio.create_task(_receive(ws, sent_ends, sent_at, result))
            start, pos, stage = time.perf_counter(), 0, "sending"
            while pos < len(pcm):
                n = int(rng.integers(20, 101)) * SAMPLE_RATE // 1000
                chunk = pcm[pos : pos + n]
                await asyncio.sleep(
                    max(0.0, start + (pos + len(chunk)) / SAMPLE_RATE - time.perf_counter())
                )
                await ws.send(OFFSET.pack(2 * pos) + chunk.tobytes())
                sent_ends.append(pos + len(chunk))
                sent_at.append(time.perf_counter())
                pos += len(chunk)
            await ws.send(json.dumps({"type": "stop"}))
            stage = "waiting for stopped"
            await asyncio.wait_for(receiver, timeout=60)
            result.bytes_sent = 2 * len(pcm)
            result.windows_expected = -(-len(pcm) // WINDOW)
    except Exception as exc:  # noqa: BLE001 - counted as a failed stream, reported in the table
        result.error = f"{exc.__class__.__name__} while {stage}: {exc}"[:200]
        result.bytes_sent = 2 * len(pcm)
        result.windows_expected = -(-len(pcm) // WINDOW)
    return result


async def _load(
    port: int, cookie: str, lectures: list[str], pcm: np.ndarray, seconds: float
) -> list[StreamResult]:
    rng = np.random.default_rng(0)
    length = int(seconds * SAMPLE_RATE)
    tasks = []
    for i, lecture in enumerate(lectures):
        offset = (i * 7919 * WINDOW) % max(1, len(pcm) - length)
        tasks.append(
            one_stream(
                port,
                cookie,
                lecture,
                pcm[offset : offset + length],
                float(rng.uniform(0, 1.0)),
                np.random.default_rng(i),
            )
        )
    return await asyncio.gather(*tasks)


def measure(n: int, pcm: np.ndarray, seconds: float) -> dict:
    """One run with n streams against a fresh server: latency, loss, server CPU and RSS."""
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp)) as (port, pid):
        status, cookie = _request(
            port,
            "POST",
            "/api/auth/signup",
            {"email": "bench@example.com", "password": "bench-password-1"},
        )
        if status != 201 or not cookie.startswith(COOKIE):
            raise RuntimeError(f"signup failed: {status} {cookie}")
        lectures = []
        for i in range(n):
            status, text = _request(port, "POST", "/api/lectures", {"title": f"s{i}"}, cookie)
            if status != 201:
                raise RuntimeError(f"creating lecture {i} failed: {status} {text[:200]}")
            lectures.append(json.loads(text)["id"])
        rss_idle = proc_rss_mb(pid)[0]
        cpu0, wall0 = proc_cpu_s(pid), time.perf_counter()
        gen0 = time.process_time()
        results = asyncio.run(_load(port, cookie, lectures, pcm, seconds))
        cpu_s, wall = proc_cpu_s(pid) - cpu0, time.perf_counter() - wall0
        gen_cpu = (time.process_time() - gen0) / wall
        rss, peak = proc_rss_mb(pid)
    lat = np.array([x for r in results for x in r.latencies]) * 1000
    return {
        "streams": n,
        "p50_ms": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        "p99_ms": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
        "windows_lost": sum(max(0, r.windows_expected - r.windows_scored) for r in results),
        "bytes_lost": sum(max(0, r.bytes_sent - r.bytes_acked) for r in results),
        "failed_streams": sum(r.error is not None for r in results),
        "errors": sorted({r.error for r in results if r.error})[:3],
        "server_cpu": cpu_s / wall,
        "server_cpu_ms_per_stream_s": 1000 * cpu_s / (n * seconds),
        "generator_cpu": gen_cpu,
        "load_average": os.getloadavg()[0],
        "rss_idle_mb": rss_idle,
        "rss_mb": rss,
        "rss_peak_mb": peak,
    }


def run(ctx: Context) -> Section:
    counts, seconds = ([2], 1.0) if ctx.quick else (COUNTS, SECONDS)
    pcm = to_int16(ctx.recording)
    if len(pcm) < seconds * SAMPLE_RATE:
        pcm = np.tile(pcm, int(seconds * SAMPLE_RATE // len(pcm)) + 1)
    rows, results = [], []
    for n in counts:
        print(f"bench: live {n} streams …", file=sys.stderr, flush=True)
        r = measure(n, pcm, seconds)
        results.append(r)
        ok = r["p99_ms"] < 100 and r["windows_lost"] == 0 and r["bytes_lost"] == 0
        rows.append(
            [
                n,
                f"{r['p50_ms']:.0f}",
                f"{r['p99_ms']:.0f}",
                r["windows_lost"],
                r["bytes_lost"],
                r["failed_streams"],
                f"{100 * r['server_cpu']:.0f}%",
                f"{r['server_cpu_ms_per_stream_s']:.1f}",
                f"{100 * r['generator_cpu']:.0f}%",
                f"{r['rss_mb']:.0f}",
                f"{r['rss_peak_mb']:.0f}",
                f"{r['load_average']:.1f}",
                "yes" if ok else "no",
            ]
        )
    header = [
        "streams",
        "p50 ms",
        "p99 ms",
        "windows lost",
        "bytes lost",
        "failed streams",
        "server CPU (one core)",
        "server CPU ms per stream-second",
        "load generator CPU",
        "server RSS MB",
        "peak RSS MB",
        "machine load",
        "p99 < 100 ms, no loss",
    ]
    body = (
        f"Each stream sends {seconds:g} s of real speech at real-time pace in random 20–100 ms "
        "chunks over its own WebSocket to a fresh server on 127.0.0.1 (starts spread over 1 s); "
        "the load generator is a separate Python process on the same machine, so the two "
        "compete for its cores; 'machine load' is the 1-minute load average at the end of each "
        "run (above the core count every process, the server included, waits for CPU). Server "
        "CPU per stream-second (connection set-up and stop included) is the cost that does not "
        "depend on the load: 1000 divided by it is the streams one core could carry. "
        "Targets: ≥ 500 streams with p99 < 100 ms and no loss; RSS ≤ "
        "150 MB at 100 streams. Errors seen: "
        + (", ".join(sorted({e for r in results for e in r["errors"]})) or "none")
        + ".\n\n"
        + table(header, rows)
    )
    figs = []
    if len(counts) > 1:
        figs.append(
            figure(
                ctx.plot_path("live_latency.png"),
                lambda ax: _plot(ax, results),
                "Live server: latency against concurrent streams",
            )
        )
    return Section("Live server under load", body, figs, {"runs": results})


def _plot(ax, results: list[dict]) -> None:
    n = [r["streams"] for r in results]
    ax.plot(n, [r["p50_ms"] for r in results], "o-", label="p50")
    ax.plot(n, [r["p99_ms"] for r in results], "o-", label="p99")
    ax.axhline(100, color="grey", linestyle=":", label="100 ms target")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent live streams")
    ax.set_ylabel("latency, last sample sent → probability (ms)")
    ax.legend()
