"""A sliding-window rate limiter kept in process memory (one process per embedded deployment)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._monotonic = monotonic
        self._calls = 0

    def hit(self, key: str, limit: int, period: float) -> float | None:
        """Count one request for `key`; None if allowed, else seconds until the next is allowed."""
        retry_after = self.retry_after(key, limit, period)
        if retry_after is None and limit > 0:
            self.add(key)
        return retry_after

    def retry_after(self, key: str, limit: int, period: float) -> float | None:
        """Without counting: None if one more request for `key` is allowed, else seconds until it is."""
        if limit <= 0:
            return None
        now = self._monotonic()
        window = self._hits.setdefault(key, deque())
        while window and window[0] <= now - period:
            window.popleft()
        self._sweep(now, period)
        if len(window) >= limit:
            return max(0.0, window[0] + period - now)
        return None

    def add(self, key: str) -> float:
        """Count one request for `key` (checked with `retry_after` first); returns its stamp for `discard`."""
        now = self._monotonic()
        self._hits.setdefault(key, deque()).append(now)
        return now

    def discard(self, key: str, stamp: float) -> None:
        """Give back a counted request, e.g. an attempt that turned out not to count (a successful login)."""
        window = self._hits.get(key)
        if window is not None and stamp in window:
            window.remove(stamp)

    def _sweep(self, now: float, period: float) -> None:
        self._calls += 1
        if self._calls % 1000:
            return
        for key in [k for k, w in self._hits.items() if not w or w[-1] <= now - period]:
            del self._hits[key]
