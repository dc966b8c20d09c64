"""Where SQLite and PostgreSQL differ: values one takes and the other refuses (a NUL character in
a text, which PostgreSQL refuses and SQLite stores; ids past 2**31, PostgreSQL's integer, or
2**63, SQLite's) end in a clear 4xx on both, never a 500; times are UTC on both, whatever the
PostgreSQL server's own time zone. `make test-postgres` runs this file there."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from conftest import report
from fastapi.testclient import TestClient
from sqlalchemy import text

from classrec.web.db import BAD_VALUE, MIGRATIONS_DIR, Database, migrate

HUGE = [2**31, 2**63, 10**30]


@pytest.fixture
def ids(client: TestClient) -> dict[str, str]:
    lecture = client.post("/api/lectures", json={"title": "t"}).json()["id"]
    return {"lecture": lecture}


def cases(lecture: str) -> list[tuple[str, str, dict | None]]:
    nul = "a\x00b"
    out = [
        ("POST", "/api/auth/login", {"email": f"{nul}@example.org", "password": "x" * 9}),
        ("POST", f"/api/lectures/{lecture}/bookmarks", {"t": 0, "note": nul}),
        ("POST", "/api/courses/join", {"code": nul}),
        ("GET", "/api/lectures/ab%00cd", None),
        ("GET", "/api/lectures/upload/ab%00cd", None),
    ]
    for n in HUGE:
        out += [
            ("GET", f"/api/courses/{n}", None),
            ("GET", f"/api/courses/{n}/lectures", None),
            ("PUT", f"/api/courses/{n}/lectures/{lecture}", None),
            ("PATCH", f"/api/lectures/{lecture}/bookmarks/{n}", {"note": "x"}),
            ("DELETE", f"/api/lectures/{lecture}/bookmarks/{n}", None),
        ]
    return out


def test_nul_characters_and_huge_ids_are_refused_cleanly(client: TestClient, ids) -> None:  # noqa: ANN001
    answers = []
    for method, path, body in cases(ids["lecture"]):
        r = client.request(method, path, json=body) if body else client.request(method, path)
        answers.append(r.status_code)
        assert r.status_code in {400, 401, 404, 422} or r.status_code == 201, (path, r.text)
        if r.status_code == 400:
            assert r.json() == {"detail": BAD_VALUE}
    assert client.get("/api/lectures").status_code == 200  # the app goes on
    assert 500 not in answers


def test_times_are_utc_whatever_the_servers_time_zone(client: TestClient) -> None:
    """.ci/start-postgres runs its server at +13:45: a lecture was listed at "00:39+13:45" after
    being made at "10:54Z" until the app set its sessions to UTC."""
    made = client.post("/api/lectures", json={"title": "t"}).json()
    listed = client.get("/api/lectures").json()[0]
    assert made["created_at"].endswith("Z") and listed["created_at"] == made["created_at"]


def at_once(request, n: int = 8) -> Counter:  # noqa: ANN001 - a no-argument callable
    """The status codes of `request` sent n times at once (a double click, two tabs)."""
    with ThreadPoolExecutor(n) as pool:
        return Counter(pool.map(lambda _: request().status_code, range(n)))


def test_the_same_request_at_once_never_fails(client: TestClient, other_client) -> None:  # noqa: ANN001
    """Joining a course 8 times at once answered 500 (a unique violation on both databases: the
    check and the insert raced), and deleting a course 8 times at once 500 (the course was read
    again after the role check, by then deleted)."""
    joins, deletes = Counter(), Counter()
    for _ in range(3):
        course = client.post("/api/courses", json={"title": "c"}).json()
        joins += at_once(lambda c=course: other_client.post(
            "/api/courses/join", json={"code": c["invite_code"]}))  # fmt: skip
        deletes += at_once(lambda c=course: client.delete(f"/api/courses/{c['id']}"))
    report("database: same request at once", joins=dict(joins), deletes=dict(deletes))
    assert joins == {200: 24}
    assert set(deletes) <= {204, 404} and deletes[204] >= 3
    assert client.get("/api/courses").json() == [] and other_client.get("/api/courses").json() == []


def test_migrations_keep_data_and_go_down_and_up_again(tmp_path, database_url: str) -> None:  # noqa: ANN001
    """Every migration on this database (the suite otherwise copies one made at head): a user, a
    lecture and a bookmark made at revision 0001 survive the upgrade (the bookmark becomes the
    owner's). PostgreSQL also goes down to nothing and back up; SQLite's downgrade of 0002 is
    for the command line only (it says why)."""
    postgres = bool(database_url)
    db = Database(database_url or f"sqlite:///{tmp_path / 'm.sqlite3'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))

    def to(revision: str, down: bool = False) -> None:
        with db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(cfg, revision)

    if postgres:
        to("base", down=True)
    to("0001")
    made = "'2025-01-01T00:00:00Z'"
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO users (email, password_hash, created_at) "
                          f"VALUES ('old@example.org', 'x', {made})"))  # fmt: skip
        conn.execute(text("INSERT INTO lectures VALUES ('a1', (SELECT id FROM users), 'Old', "
                          f"'upload', 'ready', NULL, 1.0, 0.5, {made})"))  # fmt: skip
        conn.execute(text("INSERT INTO bookmarks (lecture_id, t, note, created_at) "
                          f"VALUES ('a1', 0.5, 'n', {made})"))  # fmt: skip
    migrate(db.engine)
    with db.engine.connect() as conn:
        owner = conn.execute(text("SELECT id FROM users")).scalar_one()
        assert conn.execute(text("SELECT user_id FROM bookmarks")).scalar_one() == owner
    if postgres:
        to("base", down=True)
        migrate(db.engine)
    with db.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    db.engine.dispose()
