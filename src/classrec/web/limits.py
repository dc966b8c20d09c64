"""Fair-use limits that keep one account from taking what the others need: counted slots per
user (uploads, live streams) and a token bucket (audio bytes per second on one socket).

All state is in memory: the app is one process, and a restart forgets nothing that matters
(slots are released when their request ends; a bucket starts full).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class LimitReached(Exception):
    """A request over a fair-use limit; `message` says which limit and what to do."""


class Slots:
    """At most `per_user` concurrent holders per user and `total` in all."""

    def __init__(self, per_user: int, total: int, what: str) -> None:
        self.per_user, self.total, self.what = per_user, total, what
        self._held: Counter[int] = Counter()
        self._lock = threading.Lock()

    def try_take(self, user_id: int) -> None:
        """Take a slot or raise LimitReached (never waits: a waiting request would hold a
        socket and a thread for nothing)."""
        with self._lock:
            if self._held[user_id] >= self.per_user:
                raise LimitReached(
                    f"at most {self.per_user} {self.what} at a time per account: "
                    "wait for the others to finish"
                )
            if sum(self._held.values()) >= self.total:
                raise LimitReached(f"the server has {self.total} {self.what}: try again later")
            self._held[user_id] += 1

    def give_back(self, user_id: int) -> None:
        with self._lock:
            self._held[user_id] -= 1
            if self._held[user_id] <= 0:
                del self._held[user_id]

    @contextmanager
    def hold(self, user_id: int) -> Iterator[None]:
        self.try_take(user_id)
        try:
            yield
        finally:
            self.give_back(user_id)

    def held(self, user_id: int) -> int:
        with self._lock:
            return self._held[user_id]


class TokenBucket:
    """`rate` units per second sustained, up to `burst` at once. `delay(n)` takes n units and
    says how many seconds the caller should wait before taking more (0 when within budget), so a
    socket reader can sleep and let TCP push back on a client that sends too fast."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._tokens, self._at = burst, time.monotonic()

    def delay(self, n: float) -> float:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= n
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
