"""Values one database takes and the other refuses: a NUL character in a text (PostgreSQL refuses
it, SQLite stores it) and ids past 2**31 (PostgreSQL's integer) or 2**63 (SQLite's). Each request
ends in a clear 4xx on both databases, never a 500 (`make test-postgres` runs this file there)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from classrec.web.db import BAD_VALUE

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
