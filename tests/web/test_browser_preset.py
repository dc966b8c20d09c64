"""The segmentation preset control in real Chromium: picking "noisy room" on the Upload page is
saved on the server (it survives a reload); a bad preset file is refused with the server's
one-line reason and changes nothing. (That a preset changes regions: test_presets.py.)"""

from __future__ import annotations

import pytest

from classrec.web.presets import ROOMS

from .conftest import new_page, shot, sign_up_in_page

pytestmark = pytest.mark.slow


def status_has(page, text: str) -> None:  # noqa: ANN001
    page.wait_for_function(
        "t => (document.querySelector('#preset-status')?.textContent || '').includes(t)", arg=text
    )


def test_picking_noisy_room(browser, module_server, tmp_path) -> None:  # noqa: ANN001
    url = module_server.url
    page = new_page(browser)
    sign_up_in_page(page, url, "noisy@example.org")
    page.goto(f"{url}/#/upload")
    status_has(page, "“default”: speech starts at probability 0.5")
    page.select_option("#preset-room", "noisy room")
    noisy = ROOMS["noisy room"]
    status_has(page, f"“noisy room”: speech starts at probability {noisy.threshold}")
    shot(page, "preset-noisy-room")
    page.reload()
    status_has(page, "“noisy room”")
    assert page.input_value("#preset-room") == "noisy room"
    preset = page.request.get(f"{url}/api/me/preset").json()
    assert preset["name"] == "noisy room"
    assert preset["options"]["threshold"] == noisy.threshold
    assert preset["options"]["min_speech_ms"] == noisy.min_speech_ms

    bad = tmp_path / "room.json"
    bad.write_text('{"classrec_preset": 1, "options": {"threshold": 2}}')
    page.set_input_files("#preset-file", str(bad))
    page.wait_for_selector("#preset-status.error")
    assert "threshold must be between 0 and 1" in page.inner_text("#preset-status")
    assert page.request.get(f"{url}/api/me/preset").json()["name"] == "noisy room"
    assert not page.errors, page.errors
    page.context.close()
