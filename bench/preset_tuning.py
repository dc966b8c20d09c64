"""A preset tuned on a labelled sample in the web app, through a real server, against the same
search run in-process (`classrec tune`'s `tune_samples` on the same files, measured in the same
run before and after the server's, the faster of the two), and what it costs a live recording
meanwhile.

The sample is a labelled dev recording (`speech/labelled-real`, read French, five labelled
regions) played again and again to `SAMPLE_S` seconds, its labels shifted to match (smoke run:
the labelled 10 s test fixture, once). The server (`python -m classrec.web`, data in a
temporary folder) gets it as the page sends it (multipart POST /api/me/preset/sample, answered
once the preset is saved). A live
stream of the test lecture fed at real-time pace runs through the whole measurement; the delay
from sending each window's last byte to receiving its probability is compared during the tuning
and outside it (the search runs in a process of its own: in a thread of the server it held the
GIL, took about 4 times as long beside one live stream and delayed the stream).
"""

from __future__ import annotations

import asyncio
import json
import struct
import tempfile
import threading
import time
import wave
from pathlib import Path

import httpx
import numpy as np

from bench.common import FIXTURE, SAMPLE_RATE, WINDOW, Context, Section, table
from bench.live import COOKIE, CSRF, _log_in, server
from classrec.audio import load_audio
from classrec.pipeline import shared_detector
from classrec.tune import load_sample, tune_samples
from classrec.web.presets import options_json
from classrec.web.storage import to_pcm16

RECORDING = "speech/labelled-real/sppas-fra_F_F_C006-P6"
SAMPLE_S = 180.0
"""The sample's length (s): the few minutes the page asks for."""
LIVE_LEAD_S = 5.0
"""Seconds of live audio before the tuning starts (and at least as many after it)."""


def make_sample(source: Path, folder: Path, seconds: float) -> tuple[Path, Path]:
    """(WAV, JSON labels): a labelled recording (`source`.flac, `source`.json) repeated to at
    least `seconds`."""
    samples = load_audio(source.with_suffix(".flac"), SAMPLE_RATE)
    found = json.loads(source.with_suffix(".json").read_text())["speech"]
    duration = len(samples) / SAMPLE_RATE
    repeats = max(1, int(np.ceil(seconds / duration)))
    audio, labels = folder / "room.wav", folder / "room.json"
    with wave.open(str(audio), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(to_pcm16(np.tile(samples, repeats)).tobytes())
    shifted = [[a + k * duration, b + k * duration] for k in range(repeats) for a, b in found]
    labels.write_text(json.dumps({"speech": shifted}))
    return audio, labels


def in_process(audio: Path, labels: Path) -> tuple[float, dict]:
    """(wall seconds, best options) of `classrec tune`'s model pass and search on the files
    (the model loaded beforehand: the server's is loaded by the time it tunes)."""
    shared_detector(SAMPLE_RATE)
    start = time.perf_counter()
    best = tune_samples([load_sample(labels, audio)], labels.name)[0][0]
    return time.perf_counter() - start, options_json(best)


def tune_on_server(port: int, cookie: str, audio: Path, labels: Path, out: dict) -> None:
    """POST the sample as the page does; `out` gets start/end times, status and the preset."""
    headers = {"Cookie": f"classrec_csrf={CSRF}; {cookie}", "X-CSRF-Token": CSRF}
    files = {
        "audio": (audio.name, audio.read_bytes()),
        "labels": (labels.name, labels.read_bytes()),
    }
    out["start"] = time.perf_counter()
    response = httpx.post(
        f"http://127.0.0.1:{port}/api/me/preset/sample", files=files, headers=headers, timeout=600
    )
    out["end"] = time.perf_counter()
    out["status"], out["preset"] = response.status_code, response.json()


async def live_while_tuning(port: int, cookie: str, tune: threading.Thread, tuning: dict) -> list:
    """[(send time, delay s)] of a real-time live stream (the test lecture, looped) that starts
    `tune` after LIVE_LEAD_S and goes on until LIVE_LEAD_S after the tuning answered."""
    import websockets

    lecture = json.loads(_post_json(port, cookie, "/api/lectures", {"title": "live"}))["id"]
    pcm = to_pcm16(load_audio(FIXTURE, SAMPLE_RATE))
    delays, sent = [], {}
    uri = f"ws://127.0.0.1:{port}/api/lectures/{lecture}/live"
    headers = {"Cookie": f"classrec_csrf={CSRF}; {cookie}"}
    async with websockets.connect(uri, additional_headers=headers, ping_interval=None) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"

        async def receive() -> None:
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "probs":
                    last = msg["first_window"] + len(msg["probs"])
                    delays.append((sent[last], time.perf_counter() - sent[last]))
                elif msg["type"] in ("stopped", "error"):
                    return

        receiver = asyncio.create_task(receive())
        start, k = time.perf_counter(), 0
        while "end" not in tuning or time.perf_counter() < tuning["end"] + LIVE_LEAD_S:
            if k == int(LIVE_LEAD_S * SAMPLE_RATE / WINDOW):
                tune.start()
            await asyncio.sleep(
                max(0.0, start + (k + 1) * WINDOW / SAMPLE_RATE - time.perf_counter())
            )
            pos = k * WINDOW % (len(pcm) - WINDOW)
            sent[k + 1] = time.perf_counter()  # windows done once this one arrives
            await ws.send(struct.pack("<Q", 2 * k * WINDOW) + pcm[pos : pos + WINDOW].tobytes())
            k += 1
        await ws.send(json.dumps({"type": "stop"}))
        await asyncio.wait_for(receiver, 60)
    return delays


def _post_json(port: int, cookie: str, path: str, body: dict) -> str:
    headers = {"Cookie": f"classrec_csrf={CSRF}; {cookie}", "X-CSRF-Token": CSRF}
    response = httpx.post(f"http://127.0.0.1:{port}{path}", json=body, headers=headers)
    response.raise_for_status()
    return response.text


def _stats(delays: list[float]) -> list[str]:
    d = sorted(delays)
    return [
        str(len(d)),
        *(f"{d[min(int(q * len(d)), len(d) - 1)] * 1000:.0f}" for q in (0.5, 0.95, 1)),
    ]


def run(ctx: Context) -> Section:
    with tempfile.TemporaryDirectory(prefix="classrec-bench-tune-") as tmp:
        folder = Path(tmp)
        source = FIXTURE if ctx.quick else ctx.data / RECORDING  # smoke: the labelled fixture
        audio, labels = make_sample(source, folder, 0 if ctx.quick else SAMPLE_S)
        sample_s = wave.open(str(audio)).getnframes() / SAMPLE_RATE
        before_s, best = in_process(audio, labels)
        (folder / "data").mkdir()
        with server(folder / "data") as (port, _pid):
            cookie = _log_in(port, {"email": "tune@example.com", "password": "bench-password-1"})
            assert cookie.startswith(COOKIE)
            tuning: dict = {}
            tune = threading.Thread(
                target=tune_on_server, args=(port, cookie, audio, labels, tuning)
            )
            delays = asyncio.run(live_while_tuning(port, cookie, tune, tuning))
            tune.join()
        reference_s = min(before_s, in_process(audio, labels)[0])  # once before, once after
    if tuning["status"] != 200:
        raise RuntimeError(f"tuning failed: {tuning['status']} {tuning['preset']}")
    server_s = tuning["end"] - tuning["start"]
    during = [d for t, d in delays if tuning["start"] <= t <= tuning["end"]]
    outside = [d for t, d in delays if not tuning["start"] <= t <= tuning["end"]]
    same = tuning["preset"]["options"] == best
    rows = [
        ["in-process `tune_samples` (model + 935 options)", f"{reference_s:.2f}", "1.0×"],
        ["web app: POST /api/me/preset/sample → saved", f"{server_s:.2f}",
         f"{server_s / reference_s:.2f}×"],
    ]  # fmt: skip
    live = [["outside the tuning", *_stats(outside)], ["during the tuning", *_stats(during)]]
    body = (
        f"{__doc__.strip()}\n\nSample: {sample_s:.0f} s; the server chose the same options as the "
        f"in-process search: {'yes' if same else 'NO'}.\n\n"
        + table(["tuning", "wall s", "vs in-process"], rows)
        + "\n\nA live stream meanwhile (delay from a window's last byte sent to its probability):"
        "\n\n" + table(["live stream", "messages", "median ms", "p95 ms", "max ms"], live)
    )
    results = {"sample_s": sample_s, "reference_s": reference_s, "server_s": server_s,
               "live_outside_ms": _stats(outside), "live_during_ms": _stats(during)}  # fmt: skip
    return Section("Preset tuned on a labelled sample (web)", body, [], results)
