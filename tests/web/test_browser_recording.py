"""A recording can never be lost or stuck, in a real browser (Debian's chromium, fake microphone
playing tests/fixtures/lecture.flac, a real server): controls follow the state, the recording
survives moving around the app and an upload finishing, closing the tab asks first, and a
lecture whose tab was closed can be continued, stopped or deleted."""

from __future__ import annotations

import pytest

from .conftest import LECTURE, new_page, shot, sign_up_in_page, watch_errors

pytestmark = pytest.mark.slow


def visible(page, selector: str) -> bool:  # noqa: ANN001
    return page.locator(selector).is_visible()


def start_recording(page, url: str, title: str = "Lecture") -> str:  # noqa: ANN001
    page.goto(f"{url}/#/record")
    page.click("#mic-check")
    page.wait_for_selector("#start:not([disabled])")
    page.fill("#title", title)
    page.click("#start")
    page.wait_for_selector("#connection[data-state=connected]")
    return page.evaluate("window.classrec.lectureId")


def stop_recording(page) -> dict:  # noqa: ANN001
    page.click("#stop")
    page.wait_for_selector("#open-lecture", timeout=15000)
    lecture_id = page.evaluate("window.classrec.lectureId")
    origin = page.evaluate("location.origin")
    return page.request.get(f"{origin}/api/lectures/{lecture_id}").json()


def all_acknowledged(page) -> int:  # noqa: ANN001
    """Wait until the server has every captured byte (paused first); returns the byte count."""
    page.wait_for_function("() => window.classrec.uplink.acked === window.classrec.uplink.total")
    return page.evaluate("window.classrec.uplink.total")


def test_controls_follow_the_state(browser, module_server) -> None:  # noqa: ANN001
    page = new_page(browser)
    page.goto(module_server.url)
    page.wait_for_selector("input[name=email]")
    assert not visible(page, "#nav")  # Library/Record/Upload/Log out hidden while logged out
    sign_up_in_page(page, module_server.url, "controls@example.org")
    page.goto(f"{module_server.url}/#/record")
    page.wait_for_selector("#start")
    assert not visible(page, "#pause") and not visible(page, "#stop")
    assert page.is_disabled("#start")  # no microphone yet
    page.click("#mic-check")
    page.wait_for_selector("#start:not([disabled])")
    assert not visible(page, "#pause") and not visible(page, "#stop")
    page.click("#start")
    page.wait_for_selector("#connection[data-state=connected]")
    assert not visible(page, "#start") and page.is_enabled("#pause") and page.is_enabled("#stop")
    page.click("#pause")
    assert page.inner_text("#pause") == "Resume" and not visible(page, "#start")
    assert page.get_attribute("#speech-indicator", "data-state") == "paused"
    page.click("#pause")
    page.wait_for_timeout(1500)
    lecture = stop_recording(page)
    assert lecture["status"] == "ready" and lecture["duration_s"] > 1
    # nothing stale after Stop: no "Speech"/"connected", no Pause/Stop to press
    assert page.inner_text("#speech-indicator") == "Stopped"
    assert page.inner_text("#connection") == "closed"
    assert not visible(page, "#pause") and not visible(page, "#stop")
    assert page.is_disabled("#start")  # a new recording needs the microphone checked again
    page.click("#mic-check")  # Stop → Start: a second lecture, recorded as the first
    page.wait_for_selector("#start:not([disabled])")
    page.click("#start")
    page.wait_for_selector("#connection[data-state=connected]")
    page.wait_for_timeout(1000)
    second = stop_recording(page)
    assert second["id"] != lecture["id"] and second["duration_s"] > 0.5
    assert not page.errors, page.errors
    page.context.close()


def test_recording_survives_navigation_and_uploads(browser, module_server) -> None:  # noqa: ANN001
    url = module_server.url
    page = new_page(browser)
    sign_up_in_page(page, url, "navigate@example.org")
    lecture_id = start_recording(page, url, "Survives")
    page.wait_for_timeout(1000)
    before_leaving = page.evaluate("window.classrec.uplink.total")
    for link in ("Library", "Courses", "Upload"):
        page.click(f"#nav a:text-is('{link}')")
        page.wait_for_timeout(300)
        assert visible(page, "#recording-pill")
    page.set_input_files("#upload-file", str(LECTURE))
    page.click("#upload-button")
    page.wait_for_selector("#open-upload", timeout=20000)
    assert page.url.endswith("#/upload")  # the finished upload did not take over the page
    page.click(".brand")
    shot(page, "6-recording-elsewhere")
    page.click("#recording-pill")
    page.wait_for_selector("#stop:not([disabled])")
    assert page.evaluate("window.classrec.lectureId") == lecture_id
    lecture = stop_recording(page)
    captured = page.evaluate("window.classrec.uplink.total")
    assert lecture["duration_s"] * 32000 == pytest.approx(captured, abs=1)  # nothing lost
    # it kept recording while away (at least another second of audio), not only before leaving;
    # counted in bytes sent, not wall time: a loaded machine delivers fake-mic audio late
    assert captured > before_leaving + 32000
    assert not page.errors, page.errors
    page.context.close()


def test_closing_the_tab_asks_first(browser, module_server) -> None:  # noqa: ANN001
    page = new_page(browser)
    sign_up_in_page(page, module_server.url, "unload@example.org")
    dialogs: list[str] = []

    def dismiss(dialog) -> None:  # noqa: ANN001
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.close(run_before_unload=True)  # not recording: closes without a question
    assert dialogs == []
    page = new_page(browser)
    page.on("dialog", dismiss)
    sign_up_in_page(page, module_server.url, "unload2@example.org")
    start_recording(page, module_server.url)
    page.close(run_before_unload=True)
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"] and not page.is_closed()
    stop_recording(page)
    page.context.close()


def test_a_closed_tabs_lecture_can_be_continued(browser, module_server) -> None:  # noqa: ANN001
    url = module_server.url
    page = new_page(browser)
    sign_up_in_page(page, url, "resume@example.org")
    lecture_id = start_recording(page, url, "Two parts")
    page.wait_for_timeout(2000)
    page.click("#pause")
    first = all_acknowledged(page)
    tab = page.context.new_page()
    watch_errors(tab)
    page.close()  # the tab goes away mid-lecture: the lecture stays "recording"
    tab.goto(f"{url}/#/library")
    row = tab.locator(f"tr[data-id='{lecture_id}']")
    row.locator("a.title").click()
    tab.wait_for_selector("#continue-recording")
    shot(tab, "7-stuck-lecture")
    tab.click("#continue-recording")
    tab.wait_for_selector("text=Continue “Two parts”")
    tab.click("#mic-check")
    tab.wait_for_selector("#start:not([disabled])")
    assert tab.inner_text("#start") == "Continue recording"
    tab.click("#start")
    tab.wait_for_selector("#connection[data-state=connected]")
    assert tab.evaluate("window.classrec.lectureId") == lecture_id  # the same lecture
    tab.wait_for_timeout(2000)
    lecture = stop_recording(tab)
    total = tab.evaluate("window.classrec.uplink.total")
    assert total > first + 32000  # the second part added over a second
    assert lecture["duration_s"] * 32000 == pytest.approx(total, abs=1)
    audio = tab.request.get(f"{url}/api/lectures/{lecture_id}/audio").body()
    assert len(audio) - 44 == round(lecture["duration_s"] * 32000)  # both parts stored
    assert not tab.errors, tab.errors
    tab.context.close()


def test_a_stuck_lecture_can_be_stopped_or_deleted(browser, module_server) -> None:  # noqa: ANN001
    url = module_server.url
    page = new_page(browser)
    sign_up_in_page(page, url, "stuck@example.org")
    stopped_id = start_recording(page, url, "Stop me")
    page.wait_for_timeout(1500)
    tab = page.context.new_page()
    watch_errors(tab)
    page.close()
    tab.goto(f"{url}/#/lecture/{stopped_id}")
    tab.click("#stop-stuck")
    tab.wait_for_selector("#player", timeout=15000)  # now a ready lecture with its player
    assert tab.request.get(f"{url}/api/lectures/{stopped_id}").json()["status"] == "ready"

    page = tab
    deleted_id = start_recording(page, url, "Delete me")
    page.wait_for_timeout(1500)
    tab = page.context.new_page()
    watch_errors(tab)
    page.close()
    tab.goto(f"{url}/#/library")
    delete = tab.locator(f"tr[data-id='{deleted_id}'] button.danger")
    delete.click()
    delete.click()  # "Really delete?"
    tab.wait_for_selector(f"tr[data-id='{deleted_id}']", state="detached", timeout=15000)
    assert tab.request.get(f"{url}/api/lectures/{deleted_id}").status == 404
    assert not tab.errors, tab.errors
    tab.context.close()


def test_an_interrupted_lecture_can_be_continued(browser, server) -> None:  # noqa: ANN001
    """The server dies mid-lecture (kill -9) with the tab closed; after the restart the lecture
    is `interrupted`, playable, and "Continue recording" adds to it."""
    page = new_page(browser)
    sign_up_in_page(page, server.url, "crash@example.org")
    lecture_id = start_recording(page, server.url, "Crashed")
    page.wait_for_timeout(1500)
    page.click("#pause")
    first = all_acknowledged(page)
    context = page.context
    page.close()
    server.kill9()
    server.start()
    tab = context.new_page()
    watch_errors(tab)
    tab.goto(f"{server.url}/#/lecture/{lecture_id}")
    tab.wait_for_selector("#player")
    assert "interrupted" in tab.inner_text("#lecture-title")
    tab.click("#continue-recording")
    tab.click("#mic-check")
    tab.wait_for_selector("#start:not([disabled])")
    tab.click("#start")
    tab.wait_for_selector("#connection[data-state=connected]")
    tab.wait_for_timeout(1500)
    lecture = stop_recording(tab)
    total = tab.evaluate("window.classrec.uplink.total")
    assert lecture["status"] == "ready" and lecture["id"] == lecture_id
    assert total > first + 16000
    assert lecture["duration_s"] * 32000 == pytest.approx(total, abs=1)
    assert not tab.errors, tab.errors
    context.close()
