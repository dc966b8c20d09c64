"""4. Live server under load: N WebSocket streams at real-time pace against the web app.

The server (`python -m classrec.web`, a fresh one per N, on 127.0.0.1 only, data in a temporary
folder) runs in its own process; this process is the load generator. It does what the page
does: accounts of STREAMS_PER_ACCOUNT live lectures, each stream sending real speech as PCM16 in
100 ms chunks, each chunk sent when its last sample would have been recorded (real-time pace),
following the protocol of docs/web.md: binary frames `<uint64 LE byte offset><PCM16>`, then
`{"type": "stop"}`; the server answers `probs` messages.

Latency of a window = time its probability arrives − time the chunk holding its last sample was
sent. Lost = windows never scored plus bytes the server never acknowledged (must both be 0).
Server CPU (% of one core) and RSS come from /proc of the server process; streaming CPU is
the part measured while every stream is sending (no set-up, no stops).

`python -m bench --only live` runs this section alone.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.common import SAMPLE_RATE, WINDOW, Context, Section, figure, table
from classrec.lab.peers import to_int16

COUNTS = [10, 100, 300, 500, 1000]
SECONDS = 20.0  # streaming time per stream for each N
STREAMS_PER_ACCOUNT = 3
"""The server's default limit per account (a quota check per socket counts the owner's
lectures: one account with every stream would make connecting quadratic)."""
CHUNK_MS = 100
"""What the page sends: one frame per 100 ms of microphone audio (static/worklet.js)."""
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


def _log_in(port: int, credentials: dict) -> str:
    """Sign up (a new account, or the same answer for an existing one), then log in if the
    signup did not; returns the session cookie."""
    status, cookie = _request(port, "POST", "/api/auth/signup", credentials)
    if status in {201, 202} and not cookie.startswith(COOKIE):
        status, cookie = _request(port, "POST", "/api/auth/login", credentials)
    if status not in {200, 201} or not cookie.startswith(COOKIE):
        raise RuntimeError(f"log in failed: {status} {cookie[:200]}")
    return cookie


@contextlib.contextmanager
def server(data_dir: Path, command: list[str] | None = None):
    """A fresh web app process on 127.0.0.1 (`python -m classrec.web`, or `command`);
    yields (port, pid). Killed on exit."""
    port = _free_port()
    env = {
        **os.environ,
        "CLASSREC_DATA_DIR": str(data_dir),
        "CLASSREC_HOST": "127.0.0.1",
        "CLASSREC_PORT": str(port),
        "CLASSREC_LOG_LEVEL": "WARNING",
        # one address signs up and logs in every bench account
        "CLASSREC_SIGNUPS_PER_HOUR": "1000000",
        "CLASSREC_LOGIN_ATTEMPTS": "1000000",
    }
    # stderr to a file, not a pipe: nobody reads a pipe during the run, and once its 64 KiB
    # fill up every log line blocks the server (streams then hang waiting for `stopped`)
    log_path = data_dir / "server.log"
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        command or [sys.executable, "-m", "classrec.web"],
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
    port: int,
    cookie: str,
    lecture: str,
    pcm: np.ndarray,
    delay: float,
    chunk_ms: int | None,
    rng: np.random.Generator,
) -> StreamResult:
    """Feed one lecture at real-time pace in `chunk_ms` chunks (None: random 20–100 ms, the
    load this benchmark used before the page sent fixed chunks), then stop and wait for the
    last probabilities."""
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
                ms = chunk_ms or int(rng.integers(20, 101))
                n = ms * SAMPLE_RATE // 1000
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
    port: int,
    lectures: list[tuple[str, str]],
    pcm: np.ndarray,
    seconds: float,
    chunk_ms: int | None,
    pid: int,
) -> tuple[list[StreamResult], float]:
    rng = np.random.default_rng(0)
    length = int(seconds * SAMPLE_RATE)
    tasks = []
    for i, (cookie, lecture) in enumerate(lectures):
        offset = (i * 7919 * WINDOW) % max(1, len(pcm) - length)
        tasks.append(
            one_stream(
                port,
                cookie,
                lecture,
                pcm[offset : offset + length],
                float(rng.uniform(0, 1.0)),
                chunk_ms,
                np.random.default_rng(i),
            )
        )
    steady = asyncio.create_task(_steady_cpu(pid, seconds))
    results = await asyncio.gather(*tasks)
    return results, await steady


async def _steady_cpu(pid: int, seconds: float) -> float:
    """Server CPU seconds per second while every stream is sending (from 1.5 s, when all have
    started, to 1 s before the first ends): the cost of streaming alone, without the set-up
    and the stops."""
    await asyncio.sleep(1.5)
    cpu, start = proc_cpu_s(pid), time.perf_counter()
    await asyncio.sleep(max(0.5, seconds - 2.5))
    return (proc_cpu_s(pid) - cpu) / (time.perf_counter() - start)


def _lectures(port: int, n: int) -> list[tuple[str, str]]:
    """n new live lectures, STREAMS_PER_ACCOUNT per account: (session cookie, lecture id)."""
    accounts = range(-(-n // STREAMS_PER_ACCOUNT))
    with ThreadPoolExecutor(2) as pool:  # the server hashes two passwords at a time
        cookies = list(
            pool.map(
                lambda a: _log_in(port, {"email": f"b{a}@example.com", "password": "bench-pw-1"}),
                accounts,
            )
        )
    lectures = []
    for i in range(n):
        cookie = cookies[i // STREAMS_PER_ACCOUNT]
        status, text = _request(port, "POST", "/api/lectures", {"title": f"s{i}"}, cookie)
        if status != 201:
            raise RuntimeError(f"creating lecture {i} failed: {status} {text[:200]}")
        lectures.append((cookie, json.loads(text)["id"]))
    return lectures


def measure(
    n: int,
    pcm: np.ndarray,
    seconds: float,
    chunk_ms: int | None = CHUNK_MS,
    command: list[str] | None = None,
) -> dict:
    """One run with n streams against a fresh server (`command`, default the app's own):
    latency, loss, server CPU and RSS."""
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp), command) as (port, pid):
        lectures = _lectures(port, n)
        rss_idle = proc_rss_mb(pid)[0]
        cpu0, wall0 = proc_cpu_s(pid), time.perf_counter()
        gen0 = time.process_time()
        results, steady = asyncio.run(_load(port, lectures, pcm, seconds, chunk_ms, pid))
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
        "streaming_cpu_ms_per_stream_s": 1000 * steady / n,
        "generator_cpu": gen_cpu,
        "load_average": os.getloadavg()[0],
        "rss_idle_mb": rss_idle,
        "rss_mb": rss,
        "rss_peak_mb": peak,
    }


OLD_LOAD_AT = 300
"""Also measured at this many streams: the load this section used before the page sent 100 ms
chunks (random 20–100 ms), so the effect of the chunk size shows in the same run."""


def run(ctx: Context) -> Section:
    counts, seconds = ([2], 1.0) if ctx.quick else (COUNTS, SECONDS)
    pcm = to_int16(ctx.recording)
    if len(pcm) < seconds * SAMPLE_RATE:
        pcm = np.tile(pcm, int(seconds * SAMPLE_RATE // len(pcm)) + 1)
    runs = [(n, CHUNK_MS) for n in counts]
    if OLD_LOAD_AT in counts:
        runs.append((OLD_LOAD_AT, None))
    results = []
    for n, chunk_ms in runs:
        print(f"bench: live {n} streams …", file=sys.stderr, flush=True)
        results.append({**measure(n, pcm, seconds, chunk_ms), "chunk_ms": chunk_ms})
    body = _describe(seconds, results) + "\n\n" + table(HEADER, [_row(r) for r in results])
    body += "\n\n" + _capacity(results)
    figs = []
    if len(counts) > 1:
        figs.append(
            figure(
                ctx.plot_path("live_latency.png"),
                lambda ax: _plot(ax, [r for r in results if r["chunk_ms"]]),
                "Live server: latency against concurrent streams",
            )
        )
    return Section("Live server under load", body, figs, {"runs": results})


HEADER = [
    "streams",
    "chunks",
    "p50 ms",
    "p99 ms",
    "windows lost",
    "bytes lost",
    "failed streams",
    "server CPU (one core)",
    "streaming CPU ms per stream-second",
    "CPU ms per stream-second, set-up and stop included",
    "load generator CPU",
    "server RSS MB",
    "peak RSS MB",
    "machine load",
    "p99 < 100 ms, no loss",
]


def _row(r: dict) -> list:
    ok = r["p99_ms"] < 100 and r["windows_lost"] == 0 and r["bytes_lost"] == 0
    return [
        r["streams"],
        f"{r['chunk_ms']} ms" if r["chunk_ms"] else "20–100 ms",
        f"{r['p50_ms']:.0f}",
        f"{r['p99_ms']:.0f}",
        r["windows_lost"],
        r["bytes_lost"],
        r["failed_streams"],
        f"{100 * r['server_cpu']:.0f}%",
        f"{r['streaming_cpu_ms_per_stream_s']:.2f}",
        f"{r['server_cpu_ms_per_stream_s']:.2f}",
        f"{100 * r['generator_cpu']:.0f}%",
        f"{r['rss_mb']:.0f}",
        f"{r['rss_peak_mb']:.0f}",
        f"{r['load_average']:.1f}",
        "yes" if ok else "no",
    ]


def _describe(seconds: float, results: list[dict]) -> str:
    errors = ", ".join(sorted({e for r in results for e in r["errors"]})) or "none"
    return (
        f"Each stream sends {seconds:g} s of real speech at real-time pace in 100 ms chunks, "
        "as the page does, over its own WebSocket to a fresh server on 127.0.0.1 (starts spread "
        f"over 1 s; {STREAMS_PER_ACCOUNT} streams per account, the server's default limit). "
        "The load generator is a separate Python process on the same machine, so the two "
        "compete for its cores; 'machine load' is the 1-minute load average at the end of each "
        "run (above the core count every process, the server included, waits for CPU). "
        "Streaming CPU is the server's while every stream is sending: 1000 divided by it is "
        "the streams one core could carry. The other CPU column adds connecting and stopping "
        "(fsync, WAV header, speech ratio, the player's Opus file), which a 20 s stream pays "
        "over 20 s and a lecture over an hour. The row with 20–100 ms chunks is the load this "
        "section used before the page sent 100 ms chunks. Peak RSS is reached while the "
        "accounts log in (argon2 takes 64 MiB per password hash, two at a time), not while "
        "streaming. Targets: p99 < 100 ms and no loss at "
        "≥ 300 streams; streaming CPU ≤ 1 ms per stream-second; RSS ≤ 150 MB at 100 streams. "
        f"Errors seen: {errors}."
    )


def _capacity(results: list[dict]) -> str:
    """The way to more streams, from this run's figures."""
    steady = [r for r in results if r["chunk_ms"] and r["streams"] >= 100]
    if not steady:
        return ""
    best = min(r["streaming_cpu_ms_per_stream_s"] for r in steady)
    worst = max(r["streaming_cpu_ms_per_stream_s"] for r in steady)
    return (
        f"Capacity: streaming costs {best:.2f}–{worst:.2f} ms of server CPU per stream-second "
        "in these runs (less per stream as batches grow; more when the machine is busy), so "
        f"one server process (one event loop, one core under Python's GIL) saturates near "
        f"{1000 / worst:.0f}–{1000 / best:.0f} streams on a core of its own; on this 2-core "
        "machine the load generator and the other processes take the rest. About 0.2 ms of it "
        "per stream-second is the detector (batched `Detector.step`); the rest is one frame in "
        "and one `probs` message out per 100 ms (a socket read and write each, the ASGI "
        "layers, the JSON). Past saturation, latency grows "
        "without loss (the hub gives each stream at most 16 windows a tick and sockets stop "
        "reading while 10 s wait). The way to more: several server processes, each with its "
        "own hub, behind one port with a front that sends every socket of one lecture to the "
        "same process (docs/scale-out.md): a lecture's stream state lives in one process."
    )


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
