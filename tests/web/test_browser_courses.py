"""Teacher → student in a real browser: the teacher creates a course, uploads and adds a lecture
and hands out the invite link; a student opens the link, signs up, joins, plays the lecture,
bookmarks it, downloads its regions, and later finds the player where they left it."""

from __future__ import annotations

import json

import pytest

from .conftest import LECTURE, new_page, shot, sign_up_in_page

pytestmark = pytest.mark.slow


def teacher_shares_a_lecture(page, url: str) -> tuple[str, str]:  # noqa: ANN001
    """Returns the invite link and the shared lecture's id."""
    sign_up_in_page(page, url, "teacher@example.org")
    page.goto(f"{url}/#/upload")
    page.set_input_files("#upload-file", str(LECTURE))
    page.fill("#upload-title", "Week 1")
    page.click("#upload-button")
    page.click("#open-upload", timeout=20000)
    page.wait_for_selector("#player")
    page.fill("#bookmark-note", "teacher's own note")
    page.click("#add-bookmark")
    page.wait_for_selector("#bookmarks li")
    lecture_id = page.url.rsplit("/", 1)[1]
    page.click("#nav a:text-is('Courses')")
    page.fill("#new-course-input", "Physics 101")
    page.click("#new-course-button")
    page.wait_for_selector("#invite-link")
    page.select_option("#add-lecture", lecture_id)
    page.click("#add-lecture-button")
    page.wait_for_selector(f"#course-lectures li[data-id='{lecture_id}']")
    shot(page, "8-course-teacher")
    return page.input_value("#invite-link"), lecture_id


def test_teacher_to_student(browser, module_server, tmp_path) -> None:  # noqa: ANN001
    url = module_server.url
    teacher = new_page(browser)
    invite, lecture_id = teacher_shares_a_lecture(teacher, url)

    student = new_page(browser)
    student.goto(invite)  # logged out: sign up first, then the link joins the course
    student.fill("input[name=email]", "student@example.org")
    student.fill("input[name=password]", "lecture-notes-123")
    student.click("#signup")
    student.wait_for_selector("#course-title")
    assert student.inner_text("#course-title") == "Physics 101"
    assert student.locator("#invite-link").count() == 0  # students cannot invite
    with student.expect_response(lambda r: r.url.endswith("/bookmarks")) as marks:
        student.click(f"#course-lectures li[data-id='{lecture_id}'] a")
    assert marks.value.json() == []  # the teacher's note stays theirs
    student.wait_for_selector("#player")
    assert student.locator("#timeline .region").count() > 0
    assert student.locator("#continue-recording").count() == 0
    student.evaluate("document.querySelector('#player').play()")
    student.wait_for_function("() => (document.querySelector('#player') || {}).currentTime > 1")
    student.evaluate("document.querySelector('#player').pause()")
    student.select_option("#speed", "1.5")
    student.evaluate("document.querySelector('#player').currentTime = 4.2")
    student.wait_for_timeout(500)
    student.fill("#bookmark-note", "exam topic")
    student.click("#add-bookmark")
    student.wait_for_selector("#bookmarks li")
    shot(student, "9-student-lecture")
    with student.expect_download() as download:
        student.click("#dl-json")
    path = tmp_path / "regions.json"
    download.value.save_as(path)
    assert json.loads(path.read_text())["file"] == "Week_1"

    # later: the library holds nothing of theirs, the lecture resumes where they left it
    student.goto(f"{url}/#/library")
    student.wait_for_selector("table.library")
    assert student.locator("table.library tbody tr").count() == 0
    student.goto(f"{url}/#/lecture/{lecture_id}")
    student.wait_for_function("() => (document.querySelector('#player') || {}).currentTime > 4")
    assert student.evaluate("document.querySelector('#player').currentTime") == pytest.approx(
        4.2, abs=0.3
    )
    assert student.input_value("#speed") == "1.5"
    student.wait_for_selector("#bookmarks li")
    assert student.locator("#bookmarks li").all_inner_texts() == ["00:04 exam topic ×"]

    teacher.reload()
    teacher.wait_for_selector("#course-lectures")
    assert "exam topic" not in teacher.content()
    # the student leaves: the lecture is gone for them, still there for the teacher
    student.goto(f"{url}/#/courses")
    student.click("#course-list a")
    student.click("#end-course")
    student.wait_for_selector("text=You are in no course yet.")
    student.goto(f"{url}/#/lecture/{lecture_id}")
    student.wait_for_selector("#not-found")
    assert not student.errors and not teacher.errors, (student.errors, teacher.errors)
