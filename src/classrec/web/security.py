"""HTTP middleware: security headers, CSRF check (double submit, tied to the login), request log.

Pure ASGI so that it also sees WebSocket handshakes (which it leaves alone: sockets check Origin
and the session themselves in live.py).
"""

from __future__ import annotations

import json
import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from classrec.web import auth

log = logging.getLogger("classrec.web.http")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": "microphone=(self), camera=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityMiddleware:
    BINDING_FLAGS = "Path=/; HttpOnly; SameSite=Lax"
    """Like the login cookie: sent wherever it is, never readable by scripts."""

    def __init__(self, app: ASGIApp, secure_cookies: bool = False) -> None:
        self.app, self.secure = app, secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        started, status = time.perf_counter(), 500
        new_cookies = self._csrf_cookies(request.cookies)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                for cookie in new_cookies:
                    headers.append("set-cookie", cookie)
            await send(message)

        try:
            if scope["method"] not in auth.SAFE_METHODS and not auth.csrf_ok(
                request.cookies, request.headers.get(auth.CSRF_HEADER)
            ):
                await self._forbidden(send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )

    def _csrf_cookies(self, cookies: dict[str, str]) -> list[str]:
        """Set-Cookie values for a browser with no CSRF cookie, or one not tied to its login (a
        planted one, or a login made elsewhere): a fresh token, bound to the login if any. The
        next page load then works; the refused request stays refused."""
        if cookies.get(auth.CSRF_COOKIE) and auth.csrf_bound(cookies):
            return []
        token, secure = auth.new_token(), "; Secure" if self.secure else ""
        new = [f"{auth.CSRF_COOKIE}={token}; Path=/; SameSite=Strict{secure}"]
        if session := cookies.get(auth.SESSION_COOKIE):
            binding = auth.csrf_binding(session, token)
            new.append(f"{auth.CSRF_BINDING_COOKIE}={binding}; {self.BINDING_FLAGS}{secure}")
        return new

    @staticmethod
    async def _forbidden(send: Send) -> None:
        body = json.dumps({"detail": "missing or wrong X-CSRF-Token header (reload the page)"})
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})
