"""Courses on a real SQLite file: a teacher shares lectures, students watch them, roles are
enforced by the server (students never change anything; outsiders get 404), bookmarks are
personal, and the small API fixes that came with it (blank titles, file ids, visitors)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from .conftest import LECTURE, extra_client, signup, upload


@pytest.fixture
def course(client: TestClient) -> dict:
    """Alice's course with one uploaded lecture in it."""
    made = client.post("/api/courses", json={"title": "  Physics 101 "})
    assert made.status_code == 201, made.text
    course = made.json()
    lecture = upload(client, LECTURE.read_bytes()).json()
    added = client.put(f"/api/courses/{course['id']}/lectures/{lecture['id']}")
    assert added.status_code == 200 and added.json()["course_id"] == course["id"]
    return {**course, "lecture": lecture["id"]}


@pytest.fixture
def student(app, client) -> TestClient:  # noqa: ANN001
    c = extra_client(app)
    signup(c, "student@example.org")
    return c


def test_teacher_course_has_invite_code(client: TestClient, course: dict) -> None:
    assert course["title"] == "Physics 101" and course["role"] == "teacher"
    assert len(course["invite_code"]) == 8 and course["invite_code"].isalnum()
    fields = ("id", "title", "role", "invite_code")
    assert client.get("/api/courses").json() == [{k: course[k] for k in fields}]


def test_student_joins_and_watches(student: TestClient, course: dict) -> None:
    lecture = f"/api/lectures/{course['lecture']}"
    assert student.get(lecture).status_code == 404  # not yet a member
    joined = student.post("/api/courses/join", json={"code": course["invite_code"].lower()})
    assert joined.status_code == 200
    assert joined.json() == {"id": course["id"], "title": "Physics 101", "role": "student",
                             "invite_code": None}  # fmt: skip
    listed = student.get(f"/api/courses/{course['id']}/lectures").json()
    assert [x["id"] for x in listed] == [course["lecture"]]
    for suffix in ("", "/audio", "/regions", "/original", "/speech-only", "/segments?format=srt"):
        assert student.get(lecture + suffix).status_code == 200, suffix
    assert student.get("/api/lectures").json() == []  # the library holds only one's own


def test_students_change_nothing(client: TestClient, student: TestClient, course: dict) -> None:
    student.post("/api/courses/join", json={"code": course["invite_code"]})
    lecture = f"/api/lectures/{course['lecture']}"
    assert student.patch(lecture, json={"title": "mine"}).status_code == 404
    assert student.delete(lecture).status_code == 404
    own = upload(student, LECTURE.read_bytes()).json()["id"]
    base = f"/api/courses/{course['id']}/lectures"
    assert student.put(f"{base}/{own}").status_code == 403
    assert student.delete(f"{base}/{course['lecture']}").status_code == 403
    with student.websocket_connect(f"{lecture}/live") as ws:  # and cannot record into it
        assert ws.receive_json()["code"] == "not_found"
    assert client.get(lecture).json()["title"] == "talk"  # unchanged


def test_teacher_cannot_share_others_lectures(
    client: TestClient, student: TestClient, course: dict
) -> None:
    theirs = upload(student, LECTURE.read_bytes()).json()["id"]
    assert client.put(f"/api/courses/{course['id']}/lectures/{theirs}").status_code == 404


def test_outsiders_see_nothing(app, client: TestClient, course: dict) -> None:  # noqa: ANN001
    outsider = extra_client(app)
    signup(outsider, "outsider@example.org")
    assert outsider.get(f"/api/courses/{course['id']}").status_code == 404
    assert outsider.get(f"/api/courses/{course['id']}/lectures").status_code == 404
    assert outsider.get(f"/api/lectures/{course['lecture']}/audio").status_code == 404
    assert outsider.post("/api/courses/join", json={"code": "NOTACODE"}).status_code == 404
    assert outsider.get("/api/courses").json() == []


def test_removed_lecture_is_gone_for_students(
    client: TestClient, student: TestClient, course: dict
) -> None:
    student.post("/api/courses/join", json={"code": course["invite_code"]})
    removed = client.delete(f"/api/courses/{course['id']}/lectures/{course['lecture']}")
    assert removed.status_code == 204
    assert student.get(f"/api/lectures/{course['lecture']}").status_code == 404
    assert student.get(f"/api/courses/{course['id']}/lectures").json() == []


def test_bookmarks_are_personal(client: TestClient, student: TestClient, course: dict) -> None:
    student.post("/api/courses/join", json={"code": course["invite_code"]})
    base = f"/api/lectures/{course['lecture']}/bookmarks"
    teacher_mark = client.post(base, json={"t": 1.0, "note": "teacher"}).json()
    student_mark = student.post(base, json={"t": 2.0, "note": "student"}).json()
    assert [m["note"] for m in client.get(base).json()] == ["teacher"]
    assert [m["note"] for m in student.get(base).json()] == ["student"]
    assert student.delete(f"{base}/{teacher_mark['id']}").status_code == 404
    assert client.patch(f"{base}/{student_mark['id']}", json={"t": 0}).status_code == 404
    assert student.delete(f"{base}/{student_mark['id']}").status_code == 204


def test_blank_titles_are_refused(client: TestClient) -> None:
    lecture = upload(client, LECTURE.read_bytes()).json()
    blank = client.patch(f"/api/lectures/{lecture['id']}", json={"title": "   "})
    assert blank.status_code == 422 and "empty" in blank.text
    assert client.post("/api/lectures", json={"title": " \t "}).status_code == 422
    assert client.post("/api/courses", json={"title": "  "}).status_code == 422
    assert client.get(f"/api/lectures/{lecture['id']}").json()["title"] == "talk"


@pytest.mark.parametrize("fmt", ["json", "rttm"])
def test_file_ids_have_no_trailing_dot(client: TestClient, fmt: str) -> None:
    lecture = upload(client, LECTURE.read_bytes(), title="Week 1").json()
    text = client.get(f"/api/lectures/{lecture['id']}/segments", params={"format": fmt}).text
    if fmt == "json":
        assert json.loads(text)["file"] == "Week_1"
    else:
        assert text.split()[1] == "Week_1"


def test_session_answers_visitors_without_error(app, client: TestClient) -> None:  # noqa: ANN001
    visitor = extra_client(app)
    answer = visitor.get("/api/session")
    assert answer.status_code == 200 and answer.json()["user"] is None
    assert answer.json()["max_upload_bytes"] == 1024 * 1024  # settings: max_upload_mb=1
    assert client.get("/api/session").json()["user"]["email"] == "alice@example.org"


def test_migration_keeps_bookmarks_as_the_owners(tmp_path) -> None:  # noqa: ANN001
    """A database made before courses (revision 0001) with a bookmark: after upgrading, the
    bookmark belongs to the lecture's owner and the owner still sees it."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from classrec.web.db import MIGRATIONS_DIR, Database, migrate

    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
        connection.execute(text(
            "INSERT INTO users VALUES (7, 'old@example.org', 'x', '2025-01-01');"
        ))  # fmt: skip
        connection.execute(text(
            "INSERT INTO lectures VALUES ('a1', 7, 'Old', 'upload', 'ready', NULL, 1.0, 0.5,"
            " '2025-01-01')"
        ))  # fmt: skip
        connection.execute(text("INSERT INTO bookmarks VALUES (1, 'a1', 0.5, 'n', '2025-01-01')"))
    migrate(db.engine)
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, user_id FROM bookmarks")).all()
        lecture = connection.execute(text("SELECT course_id FROM lectures")).one()
    assert rows == [(1, 7)] and lecture == (None,)
    db.engine.dispose()


def test_students_leave_and_teachers_delete(
    client: TestClient, student: TestClient, course: dict
) -> None:
    student.post("/api/courses/join", json={"code": course["invite_code"]})
    base = f"/api/courses/{course['id']}"
    assert client.delete(f"{base}/enrollment").status_code == 409  # the teacher stays
    assert student.delete(base).status_code == 403
    assert student.delete(f"{base}/enrollment").status_code == 204
    assert student.get(f"/api/lectures/{course['lecture']}").status_code == 404
    student.post("/api/courses/join", json={"code": course["invite_code"]})
    assert client.delete(base).status_code == 204
    assert student.get(f"/api/lectures/{course['lecture']}").status_code == 404
    assert student.get("/api/courses").json() == [] and client.get("/api/courses").json() == []
    kept = client.get(f"/api/lectures/{course['lecture']}").json()
    assert kept["course_id"] is None  # the lecture stays the teacher's
