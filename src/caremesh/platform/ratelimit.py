"""Sliding-window rate limits: in process memory (one process, the embedded mode) or in Redis, so that a limit
holds across every process of a distributed deployment (`CAREMESH_REDIS_URL`).

Both count requests per key in a window of `period` seconds. `acquire` checks several keys and counts one
request against each only when all of them have room, atomically; `release` gives a counted request back
(a successful login does not use up an allowance).

When Redis does not answer, requests are let through (logged, and `/health/ready` reports it): staff must
still be able to log in, and the per-account lockout, kept in the database, still stops password guessing.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

log = structlog.get_logger("caremesh.ratelimit")


@dataclass(frozen=True)
class Admission:
    """`retry_after` is None when the request was counted (then `stamps` give it back), else the seconds
    until one more would be allowed."""

    retry_after: float | None
    stamps: tuple[tuple[str, str], ...] = ()


class RateLimiter(Protocol):
    async def acquire(self, keys: Sequence[str], limit: int, period: float) -> Admission: ...

    async def release(self, admission: Admission) -> None: ...

    async def close(self) -> None: ...


async def hit(limiter: RateLimiter, key: str, limit: int, period: float) -> float | None:
    """Count one request for `key`; None if allowed, else seconds until the next is allowed."""
    return (await limiter.acquire([key], limit, period)).retry_after


class MemoryRateLimiter:
    """Per process. Each call runs without awaiting, so it is atomic within the event loop."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._hits: dict[str, deque[tuple[float, str]]] = {}
        self._monotonic = monotonic
        self._calls = 0

    async def acquire(self, keys: Sequence[str], limit: int, period: float) -> Admission:
        if limit <= 0:
            return Admission(None)
        now = self._monotonic()
        waits = [wait for key in keys if (wait := self._wait(key, limit, period, now)) is not None]
        self._sweep(now, period)
        if waits:
            return Admission(max(waits))
        stamp = f"{now}:{uuid.uuid4().hex}"
        for key in keys:
            self._hits.setdefault(key, deque()).append((now, stamp))
        return Admission(None, tuple((key, stamp) for key in keys))

    async def release(self, admission: Admission) -> None:
        for key, stamp in admission.stamps:
            window = self._hits.get(key)
            if window is not None:
                for entry in window:
                    if entry[1] == stamp:
                        window.remove(entry)
                        break

    async def close(self) -> None:
        return None

    def _wait(self, key: str, limit: int, period: float, now: float) -> float | None:
        window = self._hits.setdefault(key, deque())
        while window and window[0][0] <= now - period:
            window.popleft()
        if len(window) >= limit:
            return max(0.0, window[0][0] + period - now)
        return None

    def _sweep(self, now: float, period: float) -> None:
        self._calls += 1
        if self._calls % 1000:
            return
        for key in [k for k, w in self._hits.items() if not w or w[-1][0] <= now - period]:
            del self._hits[key]


# KEYS: the windows (sorted sets scored by the Redis server's clock in ms); ARGV: limit, period in ms, stamp.
# Returns {1, 0} when counted, {0, wait in ms} when any key is full. One script, so the check and the count
# are atomic across every process.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, period = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = -1
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + period - now)
  end
end
if wait >= 0 then return {0, wait} end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, period)
end
return {1, 0}
"""


class RedisRateLimiter:
    """Shared by every process that names the same Redis and `namespace`."""

    def __init__(self, url: str, *, namespace: str = "caremesh") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._prefix = f"{namespace}:ratelimit:"
        self._acquire = self._redis.register_script(_ACQUIRE)

    async def acquire(self, keys: Sequence[str], limit: int, period: float) -> Admission:
        if limit <= 0:
            return Admission(None)
        from redis.exceptions import RedisError

        names = [self._prefix + key for key in keys]
        stamp = uuid.uuid4().hex
        try:
            counted, wait_ms = await self._acquire(keys=names, args=[limit, int(period * 1000), stamp])
        except (RedisError, OSError) as error:
            log.warning("rate_limiter_unavailable", error_type=type(error).__name__)
            return Admission(None)
        if not counted:
            return Admission(max(0.0, int(wait_ms) / 1000))
        return Admission(None, tuple((name, stamp) for name in names))

    async def release(self, admission: Admission) -> None:
        from redis.exceptions import RedisError

        if not admission.stamps:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for name, stamp in admission.stamps:
                    pipe.zrem(name, stamp)
                await pipe.execute()
        except (RedisError, OSError) as error:  # the count then expires with its window
            log.warning("rate_limiter_unavailable", error_type=type(error).__name__)

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose()


def rate_limiter(redis_url: str | None, *, namespace: str = "caremesh") -> RateLimiter:
    return RedisRateLimiter(redis_url, namespace=namespace) if redis_url else MemoryRateLimiter()
