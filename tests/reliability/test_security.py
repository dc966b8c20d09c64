"""Hostile users: every route tried with another user's ids (the route list comes from the app,
so a new route without a case here fails), CSRF on every state-changing route, secrets kept out
of the database and the logs, cookie flags, headers, and uploads that lie about their size or
name. tests/web/test_api.py covers the basic cases; this extends them to the whole surface.
"""

from __future__ import annotations

import io
import logging
import sqlite3
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
from starlette.routing import Mount
from starlette.websockets import WebSocketDisconnect

from classrec.web import create_app
from classrec.web.config import Settings
from classrec.web.logs import JsonFormatter

PASSWORD = "correct horse"
PUBLIC, USER, OWNED = "public", "user", "owned"
ROUTES = {  # every route of the app → who may use it
    ("GET", "/"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("MOUNT", "/static"): PUBLIC,
    ("POST", "/api/auth/signup"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/logout"): PUBLIC,
    ("GET", "/api/auth/me"): USER,
    ("POST", "/api/auth/password"): USER,
    ("POST", "/api/auth/logout-all"): USER,
    ("GET", "/api/storage"): USER,
    ("GET", "/api/lectures"): USER,
    ("POST", "/api/lectures"): USER,
    ("POST", "/api/lectures/upload"): USER,
    ("GET", "/api/lectures/{lecture_id}"): OWNED,
    ("PATCH", "/api/lectures/{lecture_id}"): OWNED,
    ("DELETE", "/api/lectures/{lecture_id}"): OWNED,
    ("GET", "/api/lectures/{lecture_id}/audio"): OWNED,
    ("GET", "/api/lectures/{lecture_id}/original"): OWNED,
    ("GET", "/api/lectures/{lecture_id}/segments"): OWNED,
    ("GET", "/api/lectures/{lecture_id}/regions"): OWNED,
    ("GET", "/api/lectures/{lecture_id}/speech-only"): OWNED,
    ("GET", "/api/lectures/{lecture_id}/bookmarks"): OWNED,
    ("POST", "/api/lectures/{lecture_id}/bookmarks"): OWNED,
    ("PATCH", "/api/lectures/{lecture_id}/bookmarks/{bookmark_id}"): OWNED,
    ("DELETE", "/api/lectures/{lecture_id}/bookmarks/{bookmark_id}"): OWNED,
    ("WS", "/api/lectures/{lecture_id}/live"): OWNED,
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


def make_lecture(client: TestClient) -> tuple[str, int]:
    """An uploaded lecture with one bookmark: (lecture id, bookmark id)."""
    lecture = client.post(
        "/api/lectures/upload", params={"filename": "a.flac"}, content=LECTURE.read_bytes()
    ).json()
    mark = client.post(f"/api/lectures/{lecture['id']}/bookmarks", json={"t": 1, "note": "n"})
    return lecture["id"], mark.json()["id"]


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
    alice_lecture, alice_mark = make_lecture(client)
    bob_lecture, _ = make_lecture(other_client)
    tried = 0
    for (method, template), who in ROUTES.items():
        if who != OWNED:
            continue
        # Alice's lecture; and Bob's own lecture with Alice's bookmark id
        for lecture_id in (alice_lecture, bob_lecture) if "bookmark_id" in template else (
            alice_lecture,
        ):  # fmt: skip
            path = template.format(lecture_id=lecture_id, bookmark_id=alice_mark)
            assert call(other_client, method, path) in {403, 404, 4404}, (method, path)
            tried += 1
    after = client.get(f"/api/lectures/{alice_lecture}").json()
    assert (
        after["title"] == "a"
        and len(client.get(f"/api/lectures/{alice_lecture}/bookmarks").json()) == 1
    )
    report("security", isolation_requests=tried)


def test_user_routes_need_a_session(app, client) -> None:  # noqa: ANN001
    lecture_id, mark = make_lecture(client)
    anonymous = extra_client(app)
    anonymous.get("/health")
    anonymous.headers["x-csrf-token"] = anonymous.cookies["classrec_csrf"]
    for (method, template), who in ROUTES.items():
        if who == PUBLIC:
            continue
        path = template.format(lecture_id=lecture_id, bookmark_id=mark)
        assert call(anonymous, method, path) in {401, 4401}, (method, path)


def test_csrf_on_every_state_changing_route(client) -> None:  # noqa: ANN001
    lecture_id, mark = make_lecture(client)
    token = client.headers.pop("x-csrf-token")
    checked = 0
    for method, template in ROUTES:
        if method in {"POST", "PATCH", "PUT", "DELETE"}:
            path = template.format(lecture_id=lecture_id, bookmark_id=mark)
            for headers in ({}, {"x-csrf-token": "forged"}):
                assert client.request(method, path, json={}, headers=headers).status_code == 403
                checked += 1
    client.headers["x-csrf-token"] = token
    assert client.get(f"/api/lectures/{lecture_id}/bookmarks").json()[0]["id"] == mark
    report("security", csrf_requests_refused=checked)


def database_bytes(settings: Settings) -> bytes:
    files = settings.data_dir.glob("classrec.sqlite3*")  # the database, its WAL and index
    return b"".join(path.read_bytes() for path in files)


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
    with sqlite3.connect(settings.data_dir / "classrec.sqlite3") as db:
        hashes = [row[0] for row in db.execute("SELECT password_hash FROM users")]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)


def test_cookie_flags_when_served_over_https(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data", secure_cookies=True))
    with TestClient(app, base_url="https://testserver") as c:
        csrf = c.get("/health").headers["set-cookie"]
        c.headers["x-csrf-token"] = c.cookies["classrec_csrf"]
        r = c.post("/api/auth/signup", json={"email": "tls@example.org", "password": PASSWORD})
    session = r.headers["set-cookie"].lower()
    assert "secure" in csrf.lower() and "samesite=strict" in csrf.lower()
    assert {"secure", "httponly", "samesite=lax"} <= {p.strip() for p in session.split(";")}


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
