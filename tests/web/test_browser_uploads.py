"""Uploads in real Chromium: the analysis goes on in the background with a library row showing
progress and an ETA, the page never jumps away when it finishes, and a reload mid-analysis
followed by choosing the same file again gives one lecture, not two."""

from __future__ import annotations

import io
import time
from pathlib import Path

import av
import numpy as np
import pytest

from .conftest import new_page, shot, sign_up_in_page

pytestmark = pytest.mark.slow
COPIES = 120  # the 9.9 s fixture 120 times: a 20-minute MP3 of 3.6 MB (the test limit is 5 MB)


@pytest.fixture(scope="module")
def long_mp3(tmp_path_factory, lecture_pcm) -> bytes:  # noqa: ANN001
    """One encode of the fixture, its MP3 frames repeated: a long file made in a second."""
    buffer = io.BytesIO()
    with av.open(
        buffer, "w", format="mp3", options={"write_xing": "0", "id3v2_version": "0"}
    ) as out:
        stream = out.add_stream("libmp3lame", rate=16000, layout="mono")
        stream.bit_rate = 24000
        samples = np.frombuffer(lecture_pcm, "<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 16000
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue() * COPIES


def choose(page, path) -> None:  # noqa: ANN001
    page.set_input_files("#upload-file", str(path))
    page.click("#upload-button")


def lectures(page, url: str) -> list[dict]:  # noqa: ANN001
    return page.request.get(f"{url}/api/lectures").json()


def uploading(browser, url: str, email: str, path: Path, data: bytes):  # noqa: ANN001, ANN201
    """A new user's page that has chosen `data` saved as `path` and shows it processing."""
    page = new_page(browser)
    sign_up_in_page(page, url, email)
    path.write_bytes(data)
    page.goto(f"{url}/#/upload")
    choose(page, path)
    page.wait_for_function(
        "() => /Processing/.test(document.querySelector('#upload-status')?.textContent || '')",
        timeout=60000,
    )
    return page


def test_upload_goes_on_in_the_library(browser, module_server, long_mp3, tmp_path) -> None:  # noqa: ANN001
    url = module_server.url
    page = uploading(browser, url, "uploader@example.org", tmp_path / "week-3.mp3", long_mp3)
    page.click("header nav a[href='#/library']")  # leave the upload page mid-analysis
    row = page.locator("table.library tbody tr").first
    row.locator(".job-progress").wait_for()
    page.wait_for_function(
        "() => /left/.test(document.querySelector('.job-eta')?.textContent || '')", timeout=60000
    )
    eta_text = row.locator(".job-eta").inner_text()
    fraction = float(row.locator(".job-progress").get_attribute("value") or 0) or page.evaluate(
        "document.querySelector('.job-progress').value"
    )
    shot(page, "11-upload-progress")
    print(f"library row: {eta_text!r}, bar at {fraction:.2f}")
    assert "of 20:" in eta_text and 0 < fraction < 1
    row.locator(".job-progress").wait_for(state="detached", timeout=180000)  # ready: reloaded
    assert page.evaluate("location.hash") == "#/library"  # finishing took nobody anywhere
    (lecture,) = lectures(page, url)
    # each copy brings its encoder padding (about 0.1 s): within 2 % of 120 x 9.91 s
    assert lecture["status"] == "ready"
    assert lecture["duration_s"] == pytest.approx(COPIES * 9.91, rel=0.02)
    assert row.locator(".badge").count() == 0 and "%" in row.locator(".speech-pct").inner_text()
    assert not page.errors, page.errors
    page.context.close()


def test_reload_mid_analysis_makes_no_duplicate(browser, module_server, long_mp3, tmp_path) -> None:  # noqa: ANN001
    url = module_server.url
    path = tmp_path / "week-4.mp3"
    page = uploading(browser, url, "reloader@example.org", path, long_mp3)
    page.reload()  # the request is gone; the analysis is not
    sent: list[str] = []
    page.on("request", lambda r: "/api/lectures/upload?" in r.url and sent.append(r.url))
    page.goto(f"{url}/#/library")
    page.locator("table.library .job-progress").wait_for()
    for _ in ("while it is analysed", "once it is ready"):
        page.goto(f"{url}/#/upload")
        choose(page, path)  # the same file, chosen again
        page.wait_for_selector("#open-upload")
        assert "uploaded already" in page.inner_text("#upload-status")
        deadline = time.monotonic() + 180
        while lectures(page, url)[0]["status"] != "ready" and time.monotonic() < deadline:
            time.sleep(0.5)
        page.goto(f"{url}/#/library")
    assert sent == []  # asked first, never sent again
    (lecture,) = lectures(page, url)
    assert lecture["status"] == "ready" and lecture["title"] == "week-4"
    assert not page.errors, page.errors
    page.context.close()
