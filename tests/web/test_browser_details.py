"""The details a lecturer or student hits, in a real browser: no console error for a visitor,
a not-found view, a phone layout without sideways scrolling, readable contrast, labelled
controls, a timeline that draws nothing while paused, and the upload limit checked first."""

from __future__ import annotations

import pytest

from .conftest import LECTURE, new_page, shot, sign_up_in_page

pytestmark = pytest.mark.slow

# Counts canvas strokes and animation frames the page asks for (installed before its scripts).
COUNTERS = """
window.drawCounts = { stroke: 0, frames: 0 };
const stroke = CanvasRenderingContext2D.prototype.stroke;
CanvasRenderingContext2D.prototype.stroke = function (...a) {
  window.drawCounts.stroke += 1; return stroke.apply(this, a);
};
const raf = window.requestAnimationFrame.bind(window);
window.requestAnimationFrame = (f) => { window.drawCounts.frames += 1; return raf(f); };
"""

# WCAG contrast ratio of an element's text against the first opaque background behind it.
CONTRAST = """(el) => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => v / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  let bg = el;
  while (bg && rgb(getComputedStyle(bg).backgroundColor)[3] === 0) bg = bg.parentElement;
  const back = bg ? rgb(getComputedStyle(bg).backgroundColor) : [255, 255, 255];
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(back)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""

# Inputs without a label and buttons without a name a screen reader could say.
UNLABELLED = """() => {
  const named = (el) => el.getAttribute("aria-label") || (el.labels && el.labels.length);
  const fields = [...document.querySelectorAll("input, select, textarea")]
    .filter((el) => el.type !== "hidden" && !named(el));
  const buttons = [...document.querySelectorAll("button, a.button")]
    .filter((el) => !el.getAttribute("aria-label") && !/[A-Za-z]/.test(el.textContent));
  return [...fields, ...buttons].map((el) => el.outerHTML.slice(0, 120));
}"""


def uploaded_lecture(page, url: str) -> str:  # noqa: ANN001
    page.goto(f"{url}/#/upload")
    page.set_input_files("#upload-file", str(LECTURE))
    page.click("#upload-button")
    page.click("#open-upload", timeout=20000)
    page.wait_for_selector("#player")
    return page.url.rsplit("/", 1)[1]


def test_logged_out_load_has_no_console_error(browser, module_server) -> None:  # noqa: ANN001
    page = new_page(browser)
    messages: list[str] = []
    page.on("console", lambda m: m.type == "error" and messages.append(m.text))
    page.goto(module_server.url)
    page.wait_for_selector("input[name=email]")
    page.wait_for_timeout(500)
    assert messages == [] and not page.errors, (messages, page.errors)
    page.context.close()


def test_missing_and_foreign_lectures_show_not_found(browser, module_server) -> None:  # noqa: ANN001
    url = module_server.url
    owner = new_page(browser)
    sign_up_in_page(owner, url, "owner-nf@example.org")
    lecture_id = uploaded_lecture(owner, url)
    other = new_page(browser)
    sign_up_in_page(other, url, "other-nf@example.org")
    for target in (lecture_id, "0" * 32):
        other.goto(f"{url}/#/library")
        other.wait_for_selector("table.library")
        other.goto(f"{url}/#/lecture/{target}")
        other.wait_for_selector("#not-found")
        assert other.locator("table.library").count() == 0  # the old view does not stay
    other.goto(f"{url}/#/course/999")
    other.wait_for_selector("#not-found h1:text-is('Course not found')")
    assert not other.errors, other.errors
    owner.context.close()
    other.context.close()


def test_phone_layout_labels_and_contrast(browser, module_server) -> None:  # noqa: ANN001
    url = module_server.url
    page = new_page(browser, width=390, height=844)
    page.goto(url)
    page.wait_for_selector("input[name=email]")
    shot(page, "phone-login")
    widths = {"login": page.evaluate("document.documentElement.scrollWidth")}
    sign_up_in_page(page, url, "phone@example.org")
    lecture_id = uploaded_lecture(page, url)
    page.fill("#bookmark-note", "a note")
    page.click("#add-bookmark")
    page.wait_for_selector("#bookmarks li")
    page.goto(f"{url}/#/courses")
    page.fill("#new-course-input", "Phone course")
    page.click("#new-course-button")
    page.wait_for_selector("#invite-link")
    course_hash = page.url.split("#", 1)[1]
    unlabelled = {}
    for name, path, ready in [
        ("library", "#/library", "table.library"),
        ("lecture", f"#/lecture/{lecture_id}", "#bookmarks li"),
        ("record", "#/record", "#mic-check"),
        ("upload", "#/upload", "#upload-file"),
        ("courses", "#/courses", "#course-list"),
        ("course", f"#{course_hash}", "#invite-link"),
    ]:
        page.goto(f"{url}/{path}")
        page.wait_for_selector(ready)
        widths[name] = page.evaluate("document.documentElement.scrollWidth")
        unlabelled[name] = page.evaluate(UNLABELLED)
        shot(page, f"phone-{name}")
    assert all(w <= 390 for w in widths.values()), widths
    assert not any(unlabelled.values()), unlabelled
    # every pill and text style against its background: at least 4.5:1 (WCAG AA)
    page.goto(f"{url}/#/record")
    page.wait_for_selector("#mic-check")
    page.evaluate("""() => document.querySelector('#view').append(...[
        'indicator silence', 'indicator speech', 'indicator paused', 'badge interrupted',
        'badge recording', 'muted', 'error'].map((c) => {
          const el = document.createElement('span'); el.className = c; el.textContent = c;
          return el; }))""")
    ratios = {
        c: page.eval_on_selector(f"#view > span[class='{c}']", CONTRAST)
        for c in ("indicator silence", "indicator speech", "badge interrupted", "muted", "error")
    }
    assert min(ratios.values()) >= 4.5, ratios
    assert not page.errors, page.errors
    page.context.close()


def test_timeline_draws_nothing_while_paused(browser, module_server) -> None:  # noqa: ANN001
    url = module_server.url
    page = new_page(browser)
    page.add_init_script(COUNTERS)
    sign_up_in_page(page, url, "paused@example.org")
    uploaded_lecture(page, url)
    page.wait_for_timeout(500)
    before = page.evaluate("({...window.drawCounts})")
    page.wait_for_timeout(2000)
    after = page.evaluate("({...window.drawCounts})")
    assert after == before, (before, after)  # paused: no frame asked for, nothing drawn
    page.evaluate("document.querySelector('#player').play()")
    page.wait_for_timeout(1000)
    playing = page.evaluate("({...window.drawCounts})")
    assert playing["frames"] > after["frames"] + 10  # the playhead moves while it plays
    assert playing["stroke"] == after["stroke"]  # by moving an element: the curve stays drawn
    page.context.close()


def test_upload_limit_is_shown_and_checked_before_sending(browser, module_server, tmp_path) -> None:  # noqa: ANN001
    page = new_page(browser)
    sign_up_in_page(page, module_server.url, "big@example.org")
    sent: list[str] = []
    page.on("request", lambda r: "/api/lectures/upload" in r.url and sent.append(r.url))
    page.goto(f"{module_server.url}/#/upload")
    assert "Up to 5.0 MB" in page.inner_text("#upload-limit")  # the test server's limit
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (6 * 2**20))
    page.set_input_files("#upload-file", str(big))
    page.click("#upload-button")
    page.wait_for_selector("#upload-status.error")
    assert "the limit is 5.0 MB" in page.inner_text("#upload-status")
    assert sent == []  # refused before a byte was sent
    page.context.close()


def test_timeline_keyboard_text_and_markers(browser, module_server) -> None:  # noqa: ANN001
    url = module_server.url
    page = new_page(browser)
    sign_up_in_page(page, url, "keys@example.org")
    lecture_id = uploaded_lecture(page, url)
    regions = page.request.get(f"{url}/api/lectures/{lecture_id}/regions").json()["segments"]
    page.focus("#skip-silence")
    page.keyboard.press("Tab")  # the next stop is the first speech region
    assert page.evaluate("document.activeElement.className") == "region"
    for _ in regions[1:]:
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the last region plays from its start
    t = page.evaluate("document.querySelector('#player').currentTime")
    assert regions[-1][0] > 0.5 and t == pytest.approx(regions[-1][0], abs=0.01)
    page.click("#regions-text summary")
    assert page.locator("#regions-text li").count() == len(regions)
    for note in ("first", "second"):
        page.fill("#bookmark-note", note)
        page.click("#add-bookmark")
        page.wait_for_function(
            f"() => document.querySelectorAll('#bookmarks li').length > 0 && "
            f"(document.querySelector('#bookmarks')?.textContent || '').includes('{note}')"
        )
    assert page.locator("#timeline .marker").count() == 2
    shot(page, "10-timeline")
    assert not page.errors, page.errors
    page.context.close()
