"""Hostile users: every route tried with another user's ids (the route list comes from the app,
so a new route without a case here fails), CSRF on every state-changing route, secrets kept out
of the database and the logs, cookie flags, headers, and uploads that lie about their size or
name. tests/web/test_api.py covers the basic cases; this extends them to the whole surface.
"""

from __future__ import annotations

import io
import logging
import secrets
import time
import wave
from pathlib import Path

import anyio
import pytest
from conftest import LECTURE, extra_client, report, signup
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from starlette.routing import Mount
from starlette.websockets import WebSocketDisconnect

from classrec.web import create_app
from classrec.web.config import Settings
from classrec.web.logs import JsonFormatter

PASSWORD = "correct horse"
PUBLIC, USER = "public", "user"
OWNER = "owner"  # the lecture's (or upload key's) owner only
VIEWER = "viewer"  # the owner, or a teacher or student of the lecture's course
MEMBER = "member"  # the course's teacher or students
TEACHER = "teacher"  # the course's teacher only
ROUTES = {  # every route of the app → who may use it
    ("GET", "/"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("MOUNT", "/static"): PUBLIC,
    ("GET", "/api/session"): PUBLIC,  # 200 with user null for a visitor
    ("POST", "/api/auth/signup"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/logout"): PUBLIC,
    ("GET", "/api/auth/me"): USER,
    ("POST", "/api/auth/password"): USER,
    ("POST", "/api/auth/logout-all"): USER,
    ("GET", "/api/storage"): USER,
    ("GET", "/api/me/preset"): USER,  # each user's own (tests/web/test_presets.py)
    ("PUT", "/api/me/preset"): USER,
    ("POST", "/api/me/preset/sample"): USER,  # tuned on a labelled sample (test_presets.py)
    ("GET", "/api/me/preset/sample"): USER,
    ("GET", "/api/lectures"): USER,
    ("POST", "/api/lectures"): USER,
    ("POST", "/api/lectures/upload"): USER,
    ("GET", "/api/lectures/progress"): USER,  # only the user's own uploads (tested below)
    ("GET", "/api/lectures/upload/{key}"): OWNER,
    ("GET", "/api/lectures/{lecture_id}"): VIEWER,
    ("PATCH", "/api/lectures/{lecture_id}"): OWNER,
    ("DELETE", "/api/lectures/{lecture_id}"): OWNER,
    ("GET", "/api/lectures/{lecture_id}/audio"): VIEWER,
    ("GET", "/api/lectures/{lecture_id}/playback"): VIEWER,
    ("GET", "/api/lectures/{lecture_id}/original"): VIEWER,
    ("GET", "/api/lectures/{lecture_id}/segments"): VIEWER,
    ("GET", "/api/lectures/{lecture_id}/regions"): VIEWER,
    ("GET", "/api/lectures/{lecture_id}/speech-only"): VIEWER,
    ("GET", "/api/lectures/{lecture_id}/bookmarks"): VIEWER,  # each user's own marks
    ("POST", "/api/lectures/{lecture_id}/bookmarks"): VIEWER,
    ("PATCH", "/api/lectures/{lecture_id}/bookmarks/{bookmark_id}"): VIEWER,
    ("DELETE", "/api/lectures/{lecture_id}/bookmarks/{bookmark_id}"): VIEWER,
    ("WS", "/api/lectures/{lecture_id}/live"): OWNER,
    ("GET", "/api/courses"): USER,
    ("POST", "/api/courses"): USER,
    ("POST", "/api/courses/join"): USER,
    ("GET", "/api/courses/{course_id}"): MEMBER,
    ("GET", "/api/courses/{course_id}/lectures"): MEMBER,
    ("DELETE", "/api/courses/{course_id}/enrollment"): MEMBER,  # a student leaves
    ("DELETE", "/api/courses/{course_id}"): TEACHER,
    ("PUT", "/api/courses/{course_id}/lectures/{lecture_id}"): TEACHER,  # and the lecture's owner
    ("DELETE", "/api/courses/{course_id}/lectures/{lecture_id}"): TEACHER,
}
BODIES = {"PATCH": {"title": "mine now", "t": 1.0, "note": "x"}, "POST": {"t": 1.0, "note": "x"}}


def app_routes(app) -> set[tuple[str, str]]:  # noqa: ANN001
    """(method, path) of everything the app serves, read from `app.routes`."""
    return set(_flatten(app.routes, ""))


def _flatten(routes: list, prefix: str) -> list[tuple[str, str]]:
    """Routes, descending into included routers (newer FastAPI keeps them as wrappers)."""
    found = []
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI >= 0.16x: an included router
            found += _flatten(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            found += [(m, prefix + route.path) for m in route.methods - {"HEAD"}]
        elif isinstance(route, APIWebSocketRoute):
            found.append(("WS", prefix + route.path))
        elif isinstance(route, Mount):
            found.append(("MOUNT", prefix + route.path))
        else:
            found += [(m, prefix + route.path) for m in getattr(route, "methods", {"?"}) - {"HEAD"}]
    return found


def test_every_route_has_an_isolation_case(app) -> None:  # noqa: ANN001
    assert app_routes(app) == set(ROUTES), "add the new route to ROUTES (and its cases)"


def make_lecture(client: TestClient) -> dict[str, object]:
    """An uploaded lecture (with an upload key) in a course of the same user, with one bookmark:
    the ids a route template takes ({lecture_id}, {bookmark_id}, {course_id}, {key})."""
    key = secrets.token_hex(16)
    lecture = client.post(
        "/api/lectures/upload", params={"filename": "a.flac", "key": key},
        content=LECTURE.read_bytes(),
    ).json()  # fmt: skip
    mark = client.post(f"/api/lectures/{lecture['id']}/bookmarks", json={"t": 1, "note": "n"})
    course = client.post("/api/courses", json={"title": "Physics"}).json()
    shared = client.put(f"/api/courses/{course['id']}/lectures/{lecture['id']}")
    assert shared.status_code == 200, shared.text
    ids = {"lecture_id": lecture["id"], "bookmark_id": mark.json()["id"], "key": key}
    wait_for_playback(client, lecture["id"])
    return {**ids, "course_id": course["id"], "invite_code": course["invite_code"]}


def wait_for_playback(client: TestClient, lecture_id: str, timeout_s: float = 60.0) -> None:
    """The compressed player file is made in the background after an upload (409 until then):
    wait for it, so the route sweeps see the finished lecture on a loaded machine too."""
    deadline = time.monotonic() + timeout_s
    while client.get(f"/api/lectures/{lecture_id}/playback").status_code == 409:
        assert time.monotonic() < deadline, "the playback file was never prepared"
        time.sleep(0.05)


def call(client: TestClient, method: str, path: str) -> int:
    """Status of one request (or the close code of a socket)."""
    if method == "WS":
        with client.websocket_connect(path) as ws:
            while ws.receive_json()["type"] != "error":
                pass
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        return closed.value.code
    return client.request(method, path, json=BODIES.get(method)).status_code


def test_other_users_ids_answer_404_on_every_route(client, other_client) -> None:  # noqa: ANN001
    alice, bob = make_lecture(client), make_lecture(other_client)
    tried = 0
    for (method, template), who in ROUTES.items():
        if who in {PUBLIC, USER}:
            continue
        # Alice's ids; and, where a route takes two ids, each of Bob's own with one of Alice's
        mixes = [alice]
        if "bookmark_id" in template:
            mixes.append({**bob, "bookmark_id": alice["bookmark_id"]})
        if "course_id" in template and "lecture_id" in template:
            mixes += [{**bob, "lecture_id": alice["lecture_id"]},
                      {**bob, "course_id": alice["course_id"]}]  # fmt: skip
        for ids in mixes:
            path = template.format(**ids)
            assert call(other_client, method, path) in {404, 4404}, (method, path)
            tried += 1
    after = client.get(f"/api/lectures/{alice['lecture_id']}").json()
    assert after["title"] == "a" and after["course_id"] == alice["course_id"]
    assert len(client.get(f"/api/lectures/{alice['lecture_id']}/bookmarks").json()) == 1
    assert client.get(f"/api/courses/{alice['course_id']}/lectures").json()[0]["id"] == after["id"]
    assert other_client.get("/api/lectures/progress").json() == {}
    report("security", isolation_requests=tried)


def test_a_student_may_watch_a_course_lecture_and_change_nothing(client, other_client) -> None:  # noqa: ANN001
    """Bob joins Alice's course: he watches its lecture and keeps his own bookmarks on it;
    Alice's lecture, bookmarks, upload key, live socket and course stay out of his reach."""
    alice = make_lecture(client)
    joined = other_client.post("/api/courses/join", json={"code": alice["invite_code"]})
    assert joined.json()["role"] == "student" and joined.json()["invite_code"] is None
    expected = {OWNER: {404, 4404}, TEACHER: {403}, MEMBER: set(range(200, 300))}
    leave = ("DELETE", "/api/courses/{course_id}/enrollment")
    for (method, template), who in ROUTES.items():
        if who in {PUBLIC, USER} or (method, template) == leave:
            continue
        path = template.format(**alice)
        status = call(other_client, method, path)
        if who == VIEWER:  # Alice's bookmark is hers: his own marks are separate
            assert status == 404 if "bookmark_id" in template else status < 300, (path, status)
        else:
            assert status in expected[who], (method, path, status)
    own = other_client.get(f"/api/lectures/{alice['lecture_id']}/bookmarks").json()
    assert [m["note"] for m in own] == ["x"]  # the POST above, not Alice's "n"
    after = client.get(f"/api/lectures/{alice['lecture_id']}").json()
    assert after["title"] == "a" and after["course_id"] == alice["course_id"]
    assert [m["note"] for m in client.get(f"/api/lectures/{after['id']}/bookmarks").json()] == ["n"]
    assert call(other_client, "DELETE", leave[1].format(**alice)) == 204
    assert other_client.get(f"/api/lectures/{after['id']}").status_code == 404


def test_user_routes_need_a_session(app, client) -> None:  # noqa: ANN001
    ids = make_lecture(client)
    anonymous = extra_client(app)
    anonymous.get("/health")
    anonymous.headers["x-csrf-token"] = anonymous.cookies["classrec_csrf"]
    for (method, template), who in ROUTES.items():
        if who == PUBLIC:
            continue
        assert call(anonymous, method, template.format(**ids)) in {401, 4401}, template


def test_csrf_on_every_state_changing_route(client) -> None:  # noqa: ANN001
    ids = make_lecture(client)
    token = client.headers.pop("x-csrf-token")
    checked = 0
    for method, template in ROUTES:
        if method in {"POST", "PATCH", "PUT", "DELETE"}:
            path = template.format(**ids)
            for headers in ({}, {"x-csrf-token": "forged"}):
                assert client.request(method, path, json={}, headers=headers).status_code == 403
                checked += 1
    client.headers["x-csrf-token"] = token
    marks = client.get(f"/api/lectures/{ids['lecture_id']}/bookmarks").json()
    assert [m["id"] for m in marks] == [ids["bookmark_id"]]
    report("security", csrf_requests_refused=checked)


def alices_browser_with(app, alice: TestClient, csrf: str, binding: str) -> TestClient:  # noqa: ANN001
    """Alice's login cookie beside a CSRF cookie (and its binding) that someone else chose."""
    browser = extra_client(app)
    browser.cookies.set("classrec_session", alice.cookies["classrec_session"])
    browser.cookies.set("classrec_csrf", csrf)
    browser.cookies.set("classrec_csrf_bind", binding)
    browser.headers["x-csrf-token"] = csrf
    return browser


def test_the_csrf_token_is_tied_to_the_login(app, client, other_client) -> None:  # noqa: ANN001
    """A CSRF token planted in Alice's browser (cookie tossing from a sibling site, plain HTTP)
    passes the double-submit check, cookie and header being equal: it must also be the token
    of Alice's login. Mallory's own token, even with his binding, is refused."""
    lecture = client.post("/api/lectures", json={"title": "mine"}).json()["id"]
    rename = f"/api/lectures/{lecture}"
    mallory = other_client.cookies["classrec_csrf"], other_client.cookies["classrec_csrf_bind"]
    for csrf, binding in [(mallory[0], ""), mallory, ("planted", "0" * 64)]:
        forged = alices_browser_with(app, client, csrf, binding)
        assert forged.patch(rename, json={"title": "pwned"}).status_code == 403
    own = client.cookies["classrec_csrf"], client.cookies["classrec_csrf_bind"]
    assert (
        alices_browser_with(app, client, *own).patch(rename, json={"title": "ok"}).status_code
        == 200
    )
    assert client.get(rename).json()["title"] == "ok"


def test_a_browser_without_a_bound_token_gets_one(client) -> None:  # noqa: ANN001
    """A login whose CSRF cookie was lost (or predates the binding) is refused once, then the
    next page load hands out a fresh token tied to it: a reload fixes it, nothing else."""
    client.cookies.delete("classrec_csrf")
    assert client.post("/api/lectures", json={"title": "x"}).status_code == 403
    client.get("/api/session")
    assert client.cookies["classrec_csrf"] != client.headers["x-csrf-token"]
    client.headers["x-csrf-token"] = client.cookies["classrec_csrf"]
    assert client.post("/api/lectures", json={"title": "x"}).status_code == 201
    assert client.post("/api/auth/logout").status_code == 204
    assert "classrec_csrf_bind" not in client.cookies


def database_bytes(settings: Settings) -> bytes:
    """SQLite: the database, its WAL and index files, free pages included. PostgreSQL (whose
    files are the server's): every row of every table, as text."""
    if not settings.database_url.startswith("postgresql"):
        files = settings.data_dir.glob("classrec.sqlite3*")
        return b"".join(path.read_bytes() for path in files)
    with create_engine(settings.database_url).connect() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        rows = [conn.execute(text(f'SELECT * FROM "{t}"')).all() for (t,) in tables.all()]
    return repr(rows).encode()


def test_passwords_and_tokens_never_stored_or_logged(
    app, settings, caplog: pytest.LogCaptureFixture
) -> None:  # noqa: ANN001
    caplog.set_level(logging.DEBUG)
    with TestClient(app) as c:
        signup(c, "secret@example.org", PASSWORD)
        c.post("/api/auth/login", json={"email": "secret@example.org", "password": "wrong pass"})
        c.post("/api/auth/login", json={"email": "secret@example.org", "password": PASSWORD})
        token = c.cookies["classrec_session"]
        c.get("/api/lectures", params={"password": PASSWORD})  # even in a query string
        c.post("/api/auth/logout")
    logs = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert caplog.records and "request" in logs
    for secret in (PASSWORD, "wrong pass", token):
        assert secret not in logs
        assert secret.encode() not in database_bytes(settings)
    with create_engine(settings.database_url).connect() as db:
        hashes = db.execute(text("SELECT password_hash FROM users")).scalars().all()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)


def test_cookie_flags_when_served_over_https(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data", secure_cookies=True))
    with TestClient(app, base_url="https://testserver") as c:
        csrf = c.get("/health").headers["set-cookie"]
        c.headers["x-csrf-token"] = c.cookies["classrec_csrf"]
        body = {"email": "tls@example.org", "password": PASSWORD}
        assert c.post("/api/auth/signup", json=body).status_code == 202
        r = c.post("/api/auth/login", json=body)
    assert "secure" in csrf.lower() and "samesite=strict" in csrf.lower()
    cookies = {c.split("=")[0]: c.lower() for c in r.headers.get_list("set-cookie")}
    assert set(cookies) == {"classrec_session", "classrec_csrf_bind"}
    for cookie in cookies.values():  # the login and the CSRF token's binding to it
        assert {"secure", "httponly", "samesite=lax"} <= {p.strip() for p in cookie.split(";")}


def test_security_headers_on_every_kind_of_response(client) -> None:  # noqa: ANN001
    responses = [client.get(p) for p in ("/", "/health", "/static/app.js", "/api/lectures",
                                         "/api/lectures/0" * 1, "/nowhere")]  # fmt: skip
    responses.append(client.post("/api/lectures", json={}, headers={"x-csrf-token": "x"}))
    assert {r.status_code for r in responses} >= {200, 403, 404}
    for r in responses:
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"


def test_login_limit_also_stops_guessing_across_emails(app, client) -> None:  # noqa: ANN001
    c = extra_client(app)
    c.get("/health")
    c.headers["x-csrf-token"] = c.cookies["classrec_csrf"]
    codes = [
        c.post("/api/auth/login", json={"email": f"u{i}@example.org", "password": "x" * 8})
        .status_code for i in range(5)
    ]  # fmt: skip
    assert codes[:3] == [401] * 3 and codes[3:] == [429, 429]


# -- uploads -------------------------------------------------------------------------------------
async def asgi_upload(app, client: TestClient, headers: list, chunks: int) -> tuple[int, int]:  # noqa: ANN001
    """POST a body of `chunks` × 64 KiB straight into the ASGI app; returns (status, chunks the
    app read) so a test can see the upload refused before the body ended."""
    read, status = 0, 0
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items()).encode()

    async def receive() -> dict:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"\1" * 65536, "more_body": read < chunks}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    csrf = client.headers["x-csrf-token"].encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/lectures/upload", "raw_path": b"/api/lectures/upload",
        "query_string": b"filename=big.wav", "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("testserver", 80), "headers": [(b"host", b"testserver"), (b"cookie", cookie),
                                                  (b"x-csrf-token", csrf), *headers],
    }  # fmt: skip
    await app(scope, receive, send)
    return status, read


@pytest.mark.parametrize(
    "headers",
    [[], [(b"content-length", b"100")], [(b"transfer-encoding", b"chunked")]],
    ids=["no-length", "lying-length", "chunked"],
)
def test_upload_limit_enforced_while_streaming(app, client, settings, headers) -> None:  # noqa: ANN001
    total = 160  # 10 MB offered; the limit is 1 MB
    status, read = anyio.run(asgi_upload, app, client, headers, total)
    assert status == 413 and read <= settings.max_upload_bytes // 65536 + 2
    assert client.get("/api/lectures").json() == [] and not any(settings.lectures_dir.iterdir())
    report("security", upload_chunks_read_of_160=read)


def tiny_wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\1" * 1600)
    return out.getvalue()


@hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.one_of(st.text(max_size=300), st.sampled_from([
    "../../x.wav", "/etc/passwd", "..\\..\\boot.ini", "a/../../b", "\0.wav", ".", "..",
    "con.wav", "~/.ssh/id_rsa", "x" * 1000])))  # fmt: skip
def test_file_names_are_never_paths(client, settings, name: str) -> None:  # noqa: ANN001
    before = set(settings.data_dir.rglob("*"))
    r = client.post("/api/lectures/upload", params={"filename": name}, content=tiny_wav())
    assert r.status_code in {201, 422}, r.text  # 422: name longer than the query limit
    new = set(settings.data_dir.rglob("*")) - before
    assert all(p.parent.parent == settings.lectures_dir or p.parent == settings.lectures_dir
               or p.name.startswith("classrec.sqlite3") for p in new), new  # fmt: skip
    if r.status_code == 201:
        shown = r.json()["original_name"]
        assert "/" not in shown and "\\" not in shown and "\0" not in shown


def test_content_type_is_sniffed_from_the_data(client) -> None:  # noqa: ANN001
    ok = client.post("/api/lectures/upload", params={"filename": "notes.pdf"}, content=tiny_wav())
    assert ok.status_code == 201  # audio, whatever the name says
    page = b"<html><script>alert(1)</script></html>"
    refused = client.post("/api/lectures/upload", params={"filename": "x.wav"}, content=page)
    assert refused.status_code == 415
    original = client.get(f"/api/lectures/{ok.json()['id']}/original")
    assert original.headers["content-type"] == "application/octet-stream"
    assert original.headers["content-disposition"].startswith("attachment")
