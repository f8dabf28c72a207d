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
        if limit <= 0:
            return None
        now = self._monotonic()
        window = self._hits.setdefault(key, deque())
        while window and window[0] <= now - period:
            window.popleft()
        self._sweep(now, period)
        if len(window) >= limit:
            return max(0.0, window[0] + period - now)
        window.append(now)
        return None

    def _sweep(self, now: float, period: float) -> None:
        self._calls += 1
        if self._calls % 1000:
            return
        for key in [k for k, w in self._hits.items() if not w or w[-1] <= now - period]:
            del self._hits[key]
