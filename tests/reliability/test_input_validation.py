"""Small hostile inputs answer 422 with a reason, never 500, and store nothing odd: titles that
are not one line of visible text, bookmark times that are not finite seconds, weak passwords.
The bodies are sent as raw JSON text, as an attacker's script would (`json=` could not even
carry NaN or a lone surrogate)."""

from __future__ import annotations

import pytest
from conftest import extra_client, signup
from fastapi.testclient import TestClient

PASSWORD = "correct horse"  # the signup helpers' password


def send(client: TestClient, method: str, path: str, body: str) -> object:
    return client.request(method, path, content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    "title", [r'"\ud800x"', r'"x\udfff"', '""', '"   "', r'"\u0000\r\n\t"', r'"\u202e\u200b"']
)
def test_unusable_titles_are_refused(client: TestClient, title: str) -> None:
    lecture = client.post("/api/lectures", json={"title": "kept"}).json()
    for method, path in [("POST", "/api/lectures"), ("PATCH", f"/api/lectures/{lecture['id']}"),
                         ("POST", "/api/courses")]:  # fmt: skip
        r = send(client, method, path, f'{{"title": {title}}}')
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "title", r.text
    assert [x["title"] for x in client.get("/api/lectures").json()] == ["kept"]


@pytest.mark.parametrize(
    ("title", "stored"),
    [(r'"evil\u202egnp.exe"', "evilgnp.exe"), (r'"a\u0000b"', "a b"),
     (r'"Week 1\r\nX-Injected: yes"', "Week 1 X-Injected: yes"),
     (r'"  two\u2028lines "', "two lines")],
)  # fmt: skip
def test_titles_lose_controls_and_direction_overrides(client: TestClient, title, stored) -> None:  # noqa: ANN001
    made = send(client, "POST", "/api/lectures", f'{{"title": {title}}}')
    assert made.status_code == 201 and made.json()["title"] == stored
    renamed = send(client, "PATCH", f"/api/lectures/{made.json()['id']}", f'{{"title": {title}}}')
    assert renamed.status_code == 200 and renamed.json()["title"] == stored


@pytest.mark.parametrize("t", ["NaN", "Infinity", "-Infinity", "1e308", "-1", '"soon"'])
def test_bookmark_times_must_be_finite_seconds(client: TestClient, t: str) -> None:
    lecture = client.post("/api/lectures", json={"title": "live"}).json()
    marks = f"/api/lectures/{lecture['id']}/bookmarks"
    mark = client.post(marks, json={"t": 2.5, "note": "kept"}).json()
    assert send(client, "POST", marks, f'{{"t": {t}}}').status_code == 422
    assert send(client, "PATCH", f"{marks}/{mark['id']}", f'{{"t": {t}}}').status_code == 422
    assert client.get(marks).json() == [mark]


WEAK = ["password", " " * 8, "12345678", "qwertyuiop", "Password1", "iloveyou", "\t" * 9]


@pytest.mark.parametrize("weak", WEAK, ids=repr)
def test_weak_passwords_are_refused_at_signup_and_change(app, client, weak: str) -> None:  # noqa: ANN001
    c = extra_client(app)
    c.get("/health")
    c.headers["x-csrf-token"] = c.cookies["classrec_csrf"]
    r = c.post("/api/auth/signup", json={"email": "weak@example.org", "password": weak})
    (error,) = r.json()["detail"]
    assert r.status_code == 422 and " password is " in error["msg"]
    assert set(error) == {"type", "loc", "msg"}  # the password is not echoed back
    change = {"password": PASSWORD, "new_password": weak}
    assert client.post("/api/auth/password", json=change).status_code == 422
    assert client.get("/api/auth/me").status_code == 200  # the old login still works
    signup(extra_client(app), "strong@example.org", "a longer passphrase")  # a good one passes


def test_upload_titles_are_cleaned_like_every_title(client) -> None:  # noqa: ANN001
    from conftest import LECTURE

    r = client.post(
        "/api/lectures/upload",
        params={"filename": "talk.flac", "title": "evil\u202egnp\r\nX"},
        content=LECTURE.read_bytes(),
    )
    assert r.status_code == 201 and r.json()["title"] == "evilgnp X"
    blank = client.post(
        "/api/lectures/upload",
        params={"filename": "talk.flac", "title": "\u200b "},
        content=LECTURE.read_bytes(),
    )
    assert blank.status_code == 201 and blank.json()["title"] == "talk"
