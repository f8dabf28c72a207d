"""Rate limits: failed logins per IP and per account (successful ones never count), API requests per user;
over the limit → 429 with Retry-After."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.harness import USER_PASSWORD
from tests.identity.helpers import API, assert_problem, bearer, create_user, login, me, token_pair


@asynccontextmanager
async def client_at(env, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same app whose requests come from `ip`."""
    transport = httpx.ASGITransport(app=env.app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def assert_rate_limited(response: httpx.Response) -> None:
    assert_problem(response, 429, "RATE_LIMITED")
    assert 0 < int(response.headers["Retry-After"]) <= 61


WRONG = "wrong-password-000"


async def failed_logins(env) -> int:
    return await env.count("audit_events", "action = 'auth.login_failed'")


async def test_many_successful_logins_from_one_address_are_never_limited(make_env):
    # Six staff behind one NAT address, each logging in a few times: far past a 3/minute allowance.
    async with make_env(login_rate_limit="3/minute") as env:
        staff = [await create_user(env) for _ in range(6)]
        async with client_at(env, "198.51.100.7") as client:
            for _ in range(3):
                for user in staff:
                    assert (await login(client, user["email"])).status_code == 200
            for form_user in staff[:4]:  # the OAuth2 form of /docs too
                response = await client.post(
                    f"{API}/auth/token", data={"username": form_user["email"], "password": USER_PASSWORD}
                )
                assert response.status_code == 200, response.text


async def test_the_fourth_failure_from_one_address_within_a_minute_is_rate_limited(make_env):
    async with make_env(login_rate_limit="3/minute") as env:
        users = [await create_user(env) for _ in range(5)]
        async with client_at(env, "198.51.100.9") as client:
            for user in users[:3]:
                assert_problem(await login(client, user["email"], WRONG), 401, "INVALID_CREDENTIALS")
            before = await failed_logins(env)

            # Refused before the password is checked, even the right one; the refusal itself counts nothing.
            assert_rate_limited(await login(client, users[3]["email"]))
            assert_rate_limited(await login(client, users[4]["email"], WRONG))
            assert await failed_logins(env) == before
        async with client_at(env, "198.51.100.10") as elsewhere:
            assert (await login(elsewhere, users[3]["email"])).status_code == 200


async def test_successful_logins_neither_count_nor_clear_the_failures(make_env):
    async with make_env(login_rate_limit="3/minute") as env:
        users = [await create_user(env) for _ in range(4)]
        async with client_at(env, "198.51.100.11") as client:
            for user in users[:2]:
                assert_problem(await login(client, user["email"], WRONG), 401, "INVALID_CREDENTIALS")
            for user in users * 2:
                assert (await login(client, user["email"])).status_code == 200
            assert_problem(await login(client, users[2]["email"], WRONG), 401, "INVALID_CREDENTIALS")

            assert_rate_limited(await login(client, users[3]["email"]))


async def test_the_fourth_failure_on_one_account_from_anywhere_is_rate_limited(make_env):
    async with make_env(login_rate_limit="3/minute") as env:
        user = await create_user(env)
        for n in range(3):
            async with client_at(env, f"203.0.113.{n + 1}") as client:
                assert_problem(await login(client, user["email"], WRONG), 401, "INVALID_CREDENTIALS")

        async with client_at(env, "203.0.113.99") as client:
            assert_rate_limited(await login(client, user["email"].upper()))
            other = await create_user(env)
            assert (await login(client, other["email"])).status_code == 200


async def test_the_oauth2_form_endpoint_shares_the_failure_count(make_env):
    async with make_env(login_rate_limit="3/minute") as env:
        user = await create_user(env)
        async with client_at(env, "192.0.2.10") as client:
            for _ in range(2):
                assert_problem(await login(client, user["email"], WRONG), 401, "INVALID_CREDENTIALS")
            form = {"username": user["email"], "password": WRONG}
            assert_problem(await client.post(f"{API}/auth/token", data=form), 401, "INVALID_CREDENTIALS")

            response = await client.post(f"{API}/auth/token", data={**form, "password": USER_PASSWORD})

            assert_rate_limited(response)


async def test_concurrent_wrong_guesses_cannot_slip_under_the_limit(make_env):
    async with make_env(login_rate_limit="3/minute") as env:
        users = [await create_user(env) for _ in range(8)]
        async with client_at(env, "192.0.2.20") as client:
            responses = await asyncio.gather(*(login(client, u["email"], WRONG) for u in users))
        assert sorted(r.status_code for r in responses) == [401] * 3 + [429] * 5


async def test_the_account_still_locks_after_five_failures_under_the_default_limit(make_env):
    async with make_env(login_rate_limit="10/minute") as env:
        user = await create_user(env)
        async with client_at(env, "192.0.2.30") as client:
            for _ in range(5):
                assert_problem(await login(client, user["email"], WRONG), 401, "INVALID_CREDENTIALS")
            assert_problem(await login(client, user["email"]), 423, "ACCOUNT_LOCKED")


async def test_the_sixth_api_request_of_a_user_within_a_minute_is_rate_limited(make_env):
    async with make_env(api_rate_limit="5/minute") as env:
        user = await create_user(env)
        headers = bearer((await token_pair(env.client, user["email"]))["access_token"])
        for _ in range(5):
            assert (await me(env.client, headers)).status_code == 200

        assert_rate_limited(await me(env.client, headers))
        # The limit is per user: the admin (one request so far) is not affected.
        assert (await me(env.client, env.admin)).status_code == 200


async def test_with_limits_in_redis_successful_logins_never_use_up_the_allowance(make_env):
    """The same rule where limits hold across processes: a success gives its count back in Redis too."""
    import os
    import uuid

    from caremesh.platform.ratelimit import RedisRateLimiter

    url = os.environ.get("CAREMESH_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    probe = RedisRateLimiter(url, namespace="cm-probe")
    try:
        reachable = await probe.ping()
    except Exception:
        reachable = False
    finally:
        await probe.close()
    if not reachable:
        assert not os.environ.get("CAREMESH_TEST_REDIS_URL"), (
            f"CAREMESH_TEST_REDIS_URL is set but {url} does not answer"
        )
        pytest.skip(f"no Redis at {url}")
    shared = {"redis_url": url, "redis_namespace": f"cm-test-{uuid.uuid4().hex}", "login_rate_limit": "3/minute"}
    async with make_env(**shared) as one, make_env(**shared) as other:
        user = await create_user(other)  # the last started: on PostgreSQL its start reset the database
        async with client_at(one, "198.51.100.40") as first, client_at(other, "198.51.100.40") as second:
            for client in (first, second) * 4:
                assert (await login(client, user["email"])).status_code == 200
            for client in (first, second, first):
                assert_problem(await login(client, user["email"], WRONG), 401, "INVALID_CREDENTIALS")

            assert_rate_limited(await login(second, user["email"]))
