"""The rate limiter port: the in-process limiter and the Redis one (a real server) pass the same contract, and
with Redis a login limit holds across processes (two apps on one Redis)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import RedisError

from caremesh.platform.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, assert_problem

REDIS_URL = os.environ.get("CAREMESH_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


async def _redis_reachable() -> bool:
    limiter = RedisRateLimiter(REDIS_URL, namespace="cm-probe")
    try:
        return await asyncio.wait_for(limiter.ping(), 2)
    except (OSError, TimeoutError, RedisError):
        return False
    finally:
        await limiter.close()


async def _require_redis() -> None:
    if not await _redis_reachable():
        if os.environ.get("CAREMESH_TEST_REDIS_URL"):
            pytest.fail(f"CAREMESH_TEST_REDIS_URL is set but Redis does not answer at {REDIS_URL}")
        pytest.skip(f"no Redis at {REDIS_URL} (set CAREMESH_TEST_REDIS_URL to require it; .ci/run does)")


@pytest.fixture(params=["memory", "redis"])
async def limiters(request: pytest.FixtureRequest) -> AsyncIterator[list[RateLimiter]]:
    """Two limiters that count together, as two processes would: the same object in memory (a process has one),
    two clients of one namespace in Redis."""
    if request.param == "memory":
        one = MemoryRateLimiter()
        yield [one, one]
        return
    await _require_redis()
    namespace = f"cm-test-{uuid.uuid4().hex}"
    both: list[RateLimiter] = [RedisRateLimiter(REDIS_URL, namespace=namespace) for _ in range(2)]
    try:
        yield both
    finally:
        for limiter in both:
            await limiter.close()


async def test_a_limit_admits_that_many_then_says_how_long_to_wait(limiters):
    first, second = limiters
    admitted = [await limiter.acquire(["k"], 3, 60) for limiter in (first, second, first)]
    refused = await second.acquire(["k"], 3, 60)
    assert all(a.retry_after is None for a in admitted)
    assert refused.retry_after is not None
    assert 0 < refused.retry_after <= 60


async def test_every_key_is_counted_or_none(limiters):
    first, second = limiters
    assert (await first.acquire(["ip", "account"], 1, 60)).retry_after is None
    assert (await second.acquire(["other-ip", "account"], 1, 60)).retry_after is not None
    assert (await first.acquire(["other-ip"], 1, 60)).retry_after is None  # not counted by the refusal


async def test_a_released_request_gives_its_allowance_back(limiters):
    first, second = limiters
    counted = await first.acquire(["k"], 1, 60)
    await second.release(counted)
    assert (await second.acquire(["k"], 1, 60)).retry_after is None
    assert (await first.acquire(["k"], 1, 60)).retry_after is not None


async def test_the_window_slides(limiters):
    first, second = limiters
    assert (await first.acquire(["k"], 1, 0.3)).retry_after is None
    assert (await second.acquire(["k"], 1, 0.3)).retry_after is not None
    await asyncio.sleep(0.4)
    assert (await second.acquire(["k"], 1, 0.3)).retry_after is None


async def test_concurrent_requests_never_exceed_the_limit(limiters):
    attempts = [limiters[i % 2].acquire(["ip", "account"], 5, 60) for i in range(40)]
    admissions = await asyncio.gather(*attempts)
    assert sum(a.retry_after is None for a in admissions) == 5


async def test_with_redis_login_failures_count_across_processes(make_env):
    await _require_redis()
    shared = {"redis_url": REDIS_URL, "redis_namespace": f"cm-test-{uuid.uuid4().hex}", "login_rate_limit": "3/minute"}
    wrong = {"email": ADMIN_EMAIL, "password": "not-the-password-123"}
    async with make_env(**shared) as one, make_env(**shared) as other:
        assert (await one.client.post("/api/v1/auth/login", json=wrong)).status_code == 401
        assert (await other.client.post("/api/v1/auth/login", json=wrong)).status_code == 401
        assert (await one.client.post("/api/v1/auth/login", json=wrong)).status_code == 401

        refused = await other.client.post("/api/v1/auth/login", json=wrong)

        assert_problem(refused, 429, "RATE_LIMITED")
        assert int(refused.headers["Retry-After"]) >= 1


async def test_readiness_reports_redis_when_limits_live_there(make_env):
    await _require_redis()
    async with make_env(redis_url=REDIS_URL) as env:
        ready = await env.client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["redis"] == "ok"


async def test_without_redis_logins_still_work_and_readiness_says_why(make_env):
    """Staff must be able to log in; the per-account lockout in the database still stops guessing."""
    async with make_env(redis_url="redis://127.0.0.1:1/0") as env:  # nothing listens on port 1
        login = await env.client.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        ready = await env.client.get("/health/ready")
    assert login.status_code == 200, login.text
    assert ready.status_code == 503, ready.text
    assert ready.json()["checks"]["redis"].startswith("unavailable")
