"""The player in real Chromium: what it transfers per minute of lecture (measured from the
network responses), seeking with HTTP range requests, and the speech-only MP3 download."""

from __future__ import annotations

import io
import time

import av
import numpy as np
import pytest

from .conftest import new_page, shot, sign_up_in_page

pytestmark = pytest.mark.slow
MB = 1_000_000
REPEATS = 18  # the 9.9 s fixture 18 times: about 3 minutes


def flac_of(pcm: bytes) -> bytes:
    """16 kHz PCM16 as FLAC (the server's 5 MB test limit fits 3 minutes of it, not of WAV)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as out:
        stream = out.add_stream("flac", rate=16000, layout="mono")
        samples = np.frombuffer(pcm, "<i2").reshape(1, -1)
        for start in range(0, samples.shape[1], 16000):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + 16000]), format="s16", layout="mono"
            )
            frame.sample_rate = 16000
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def wait_for_opus(page, server, lecture_id: str) -> str:  # noqa: ANN001
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        regions = page.request.get(f"{server.url}/api/lectures/{lecture_id}/regions").json()
        if "/playback" in regions["audio_url"]:
            return regions["audio_url"]
        time.sleep(0.5)
    raise AssertionError("the playback file was not prepared within 2 minutes")


def received_bytes(page) -> dict[str, int]:  # noqa: ANN001
    """Bytes the browser receives per media request, from the DevTools protocol's dataReceived
    events: requests the player cancels part way count what actually arrived (their
    Content-Length would count the whole rest of the file)."""
    cdp = page.context.new_cdp_session(page)
    media: dict[str, int] = {}
    cdp.on(
        "Network.responseReceived",
        lambda e: e["type"] == "Media" and media.setdefault(e["requestId"], 0),
    )

    def count(event: dict) -> None:
        if event["requestId"] in media:
            media[event["requestId"]] += event["dataLength"]

    cdp.on("Network.dataReceived", count)
    cdp.send("Network.enable")
    return media


def test_playback_transfers_little_and_seeks(browser, module_server, lecture_pcm) -> None:  # noqa: ANN001
    page = new_page(browser)
    server = module_server
    sign_up_in_page(page, server.url, "listener@example.org")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "classrec_csrf")
    body = flac_of(lecture_pcm * REPEATS)
    lecture = page.request.post(
        f"{server.url}/api/lectures/upload?filename=long.flac",
        data=body,
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/octet-stream"},
        timeout=120000,
    ).json()
    minutes = lecture["duration_s"] / 60
    wait_for_opus(page, server, lecture["id"])

    received = received_bytes(page)
    media: list = []
    page.on("response", lambda r: r.request.resource_type == "media" and media.append(r))
    page.goto(f"{server.url}/#/lecture/{lecture['id']}")
    page.wait_for_selector("#player")
    page.wait_for_function("() => (document.querySelector('#player') || {}).readyState >= 1")
    duration = page.evaluate("document.querySelector('#player').duration")
    assert duration == pytest.approx(lecture["duration_s"], abs=0.1)

    # play the whole lecture (muted, 16x) so every byte the player needs is fetched
    page.evaluate("""() => { const a = document.querySelector('#player');
        a.muted = true; a.play().then(() => { a.playbackRate = 16; }); }""")
    page.wait_for_function("() => (document.querySelector('#player') || {}).ended", timeout=60000)
    urls = {r.url.split("?")[0].rsplit("/", 1)[-1] for r in media}
    sent = sum(received.values())
    print(f"player: {sent / MB:.3f} MB for {minutes:.2f} min = {sent / MB / minutes:.3f} MB/min")
    assert urls == {"playback"}, urls
    assert sent / MB / minutes <= 0.3

    # seek far ahead: answered with a range of the same file
    media.clear()
    page.evaluate("document.querySelector('#player').currentTime = 120")
    page.wait_for_function("() => document.querySelector('#player')?.seeking === false")
    assert page.evaluate("document.querySelector('#player').currentTime") == pytest.approx(
        120, abs=1
    )
    page.evaluate("() => document.querySelector('#player').play()")
    page.wait_for_function("() => (document.querySelector('#player') || {}).currentTime > 121")
    assert all(r.status in (200, 206) for r in media)
    assert not page.errors, page.errors


def test_speech_only_mp3_download(browser, module_server, tmp_path) -> None:  # noqa: ANN001
    from .conftest import LECTURE

    page = new_page(browser)
    sign_up_in_page(page, module_server.url, "mp3@example.org")
    page.goto(f"{module_server.url}/#/upload")
    page.set_input_files("#upload-file", str(LECTURE))
    page.click("#upload-button")
    page.click("#open-upload", timeout=20000)
    page.wait_for_selector("#dl-speech-mp3")
    with page.expect_download() as download:
        page.click("#dl-speech-mp3")
    assert download.value.suggested_filename.endswith("-speech.mp3")
    path = tmp_path / "speech.mp3"
    download.value.save_as(path)
    with av.open(str(path)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    assert 0 < samples < 9.91 * 16000
    assert "downloaded" in page.inner_text("#download-status")
    assert not page.errors, page.errors


def test_timeline_zoom(browser, module_server) -> None:  # noqa: ANN001
    from .conftest import LECTURE

    url = module_server.url
    page = new_page(browser)
    sign_up_in_page(page, url, "zoom@example.org")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "classrec_csrf")
    lecture = page.request.post(
        f"{url}/api/lectures/upload?filename=talk.flac",
        data=LECTURE.read_bytes(),
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/octet-stream"},
    ).json()
    held = []  # the player's file waits, so the seek below comes before its length is known
    audio = f"**/api/lectures/{lecture['id']}/{{audio,playback}}*"
    page.route(audio, lambda route: held.append(route))
    page.goto(f"{url}/#/lecture/{lecture['id']}")
    page.wait_for_selector("#timeline .region")
    regions = page.locator("#timeline .region").count()
    width = page.evaluate("document.querySelector('#timeline-viewport').clientWidth")
    page.select_option("#zoom", "8")
    shown = page.evaluate("""() => ({
        content: document.querySelector('.zoom-content').offsetWidth,
        canvas: document.querySelector('#curve').width,
        ticks: new Set([...document.querySelectorAll('.axis .tick')]
            .map((t) => t.textContent)).size,
        regions: document.querySelectorAll('#timeline .region').length })""")
    ticks = min(8 * 4, int(lecture["duration_s"])) + 1  # 4 per screen, at most one a second
    assert shown == {"content": pytest.approx(8 * width, abs=2), "canvas": 7200, "ticks": ticks,
                     "regions": regions}  # fmt: skip
    assert page.evaluate("document.querySelector('#player').readyState") == 0  # no length yet
    page.evaluate("document.querySelector('#player').currentTime = 9.5")  # the user's seek
    for route in held:
        route.continue_()
    page.unroute(audio)  # (which lets through any request held meanwhile)
    page.wait_for_function(
        "() => document.querySelector('#timeline-viewport').scrollLeft > 0", timeout=10000
    )
    seen = page.evaluate("""() => { const v = document.querySelector('#timeline-viewport');
        const head = document.querySelector('#timeline .playhead').offsetLeft;
        return head >= v.scrollLeft && head <= v.scrollLeft + v.clientWidth; }""")
    assert seen  # the playhead was scrolled into view
    shot(page, "12-timeline-zoom")
    assert not page.errors, page.errors
