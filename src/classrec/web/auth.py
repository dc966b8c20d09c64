"""Passwords, login sessions, CSRF and login rate limiting.

Sessions are random tokens in an HttpOnly SameSite=Lax cookie; only their SHA-256 is stored, so
a leaked database cannot be replayed. CSRF uses the double-submit pattern: a non-HttpOnly cookie
that the page copies into an `X-CSRF-Token` header on every state-changing request, which a
cross-site form or script cannot do. Once logged in, the CSRF token is also tied to the login: an
HttpOnly cookie holds HMAC(login token, CSRF token), so a CSRF token planted in the browser
(cookie tossing from a sibling site, plain HTTP) or taken from another login is refused. The
CSRF token itself stays the same across a login, so an open page keeps working.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SESSION_COOKIE = "classrec_session"
CSRF_COOKIE = "classrec_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_BINDING_COOKIE = "classrec_csrf_bind"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("timing-equaliser")
_HASH_SLOTS = threading.BoundedSemaphore(os.cpu_count() or 1)
"""Argon2 takes 64 MiB and a core for ~0.1 s: more at once than there are cores only adds
memory (80 at once: 919 MB RSS) and makes every other request wait."""


def hash_password(password: str) -> str:
    """Hash outside any database transaction: it is slow, and a writer waiting on it locks
    SQLite for everyone."""
    with _HASH_SLOTS:
        return _hasher.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """Check a password; an unknown user still costs one argon2 verify, so timing tells nothing."""
    try:
        with _HASH_SLOTS:
            return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


COMMON_PASSWORDS = frozenset(
    """password password1 password12 password123 passw0rd p@ssw0rd p@ssword 12345678 123456789
    1234567890 0123456789 11111111 00000000 88888888 87654321 12341234 11223344 12121212
    123123123 987654321 qwertyui qwertyuiop qwerty123 qwerty12 1q2w3e4r 1q2w3e4r5t 1qaz2wsx
    zaq12wsx 1qazxsw2 asdfghjk asdfghjkl zxcvbnm1 abcd1234 abc12345 iloveyou iloveyou1
    sunshine sunshine1 princess princess1 football football1 baseball welcome1 welcome123
    letmein1 trustno1 superman starwars whatever computer internet michelle jennifer
    jordan23 liverpool chocolate changeme changeme1 admin123 administrator qwer1234
    1234qwer q1w2e3r4 a1b2c3d4 aaaaaaaa abcdefgh abcdefg1 monkey123 dragon12 master12
    secret12 letmein123 hello123 test1234 testtest password! classrec""".split()
)
"""Passwords tried first by every guessing tool (the top of the public breach lists, lower
case, at least 8 characters: shorter ones are refused by length already)."""


def weak_password(password: str) -> str | None:
    """Why a new password is too easy to guess, or None. Spaces count as characters (a
    passphrase is good), but a password of spaces only is none."""
    if not password.strip():
        return "the password is only spaces: use a few words or a longer mix"
    if password.strip().lower() in COMMON_PASSWORDS:
        return "this password is one of the most common ones: choose another"
    return None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_expiry(days: int) -> datetime:
    return datetime.now(timezone.utc) + timedelta(days=days)


def csrf_binding(session_token: str, csrf_token: str) -> str:
    """The CSRF token signed with the login token (hex HMAC-SHA256): only a browser that holds
    both, or the server, can make it; it reveals neither."""
    return hmac.new(session_token.encode(), csrf_token.encode(), hashlib.sha256).hexdigest()


def csrf_bound(cookies: Mapping[str, str]) -> bool:
    """Whether the CSRF cookie is the one tied to the login cookie (True with no login)."""
    session, csrf = cookies.get(SESSION_COOKIE), cookies.get(CSRF_COOKIE)
    if not session:
        return True
    binding = cookies.get(CSRF_BINDING_COOKIE) or ""
    return bool(csrf) and hmac.compare_digest(binding, csrf_binding(session, csrf))


def csrf_ok(cookies: Mapping[str, str], header: str | None) -> bool:
    """A state-changing request: the header repeats the CSRF cookie (double submit), and that
    cookie is tied to the login the request carries, if any."""
    cookie = cookies.get(CSRF_COOKIE)
    if not (cookie and header and hmac.compare_digest(cookie, header)):
        return False
    return csrf_bound(cookies)


@dataclass
class _Key:
    """Attempts of one key (an address, an account at an address) and its lockouts so far."""

    times: deque[float] = field(default_factory=deque)
    lockouts: int = 0
    until: float = 0.0


class LoginLimiter:
    """At most `attempts` tries per key per `window_s` seconds; with `doublings`, each lockout
    of a key lasts twice the one before, up to 2**doublings windows (backoff).

    An attempt is counted *before* its password is checked, so 60 concurrent guesses are 60
    attempts, not the few that finished first; a success gives back only its own attempt
    (earlier failures of the address still count). Idle keys are pruned, so memory is bounded
    by the keys seen within their lockout."""

    def __init__(self, attempts: int, window_s: float, doublings: int = 0) -> None:
        self.attempts, self.window_s, self.doublings = attempts, window_s, doublings
        self._keys: dict[str, _Key] = {}
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def try_attempt(self, *keys: str) -> int:
        """Count one attempt for every key and return 0, or return the seconds to wait (nothing
        counted) when any key is locked out or at its limit."""
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            records = [self._keys.setdefault(k, _Key()) for k in keys]
            for record in records:
                while record.times and now - record.times[0] > self.window_s:
                    record.times.popleft()
                if record.until <= now and len(record.times) >= self.attempts:
                    lockout = self.window_s * 2 ** min(record.lockouts, self.doublings)
                    record.until, record.lockouts = now + lockout, record.lockouts + 1
                    record.times.clear()
            wait = max(r.until - now for r in records)
            if wait > 0:
                return int(wait) + 1
            for record in records:
                record.times.append(now)
            return 0

    def succeeded(self, *keys: str) -> None:
        """Give back the attempt of a successful login (only that one)."""
        with self._lock:
            for key in keys:
                record = self._keys.get(key)
                if record is not None and record.times:
                    record.times.pop()

    def _prune(self, now: float) -> None:
        if now < self._next_prune:
            return
        self._next_prune = now + self.window_s
        horizon = self.window_s * 2**self.doublings
        stale = [
            k
            for k, r in self._keys.items()
            if r.until < now - horizon and (not r.times or now - r.times[-1] > self.window_s)
        ]
        for key in stale:
            del self._keys[key]

    def __len__(self) -> int:
        return len(self._keys)
