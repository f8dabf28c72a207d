"""Rate limits: logins per IP and per account, API requests per user; over the limit → 429 with Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

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


async def test_the_fourth_login_from_one_ip_within_a_minute_is_rate_limited(make_env):
    async with make_env(login_rate_limit="3/minute") as env:
        users = [await create_user(env) for _ in range(5)]
        async with client_at(env, "198.51.100.7") as client:
            for user in users[:3]:
                assert (await login(client, user["email"])).status_code == 200

            assert_rate_limited(await login(client, users[3]["email"]))
        async with client_at(env, "198.51.100.8") as elsewhere:
            assert (await login(elsewhere, users[3]["email"])).status_code == 200


async def test_failed_logins_count_towards_the_ip_limit(make_env):
    async with make_env(login_rate_limit="3/minute") as env:
        users = [await create_user(env) for _ in range(4)]
        async with client_at(env, "198.51.100.9") as client:
            for user in users[:3]:
                assert_problem(await login(client, user["email"], "wrong-password-000"), 401, "INVALID_CREDENTIALS")

            assert_rate_limited(await login(client, users[3]["email"]))


async def test_the_fourth_login_to_one_account_from_anywhere_is_rate_limited(make_env):
    async with make_env(login_rate_limit="3/minute") as env:
        user = await create_user(env)
        for n in range(3):
            async with client_at(env, f"203.0.113.{n + 1}") as client:
                assert (await login(client, user["email"])).status_code == 200

        async with client_at(env, "203.0.113.99") as client:
            assert_rate_limited(await login(client, user["email"].upper()))


async def test_the_oauth2_form_endpoint_shares_the_login_limit(make_env):
    async with make_env(login_rate_limit="3/minute") as env:
        user = await create_user(env)
        async with client_at(env, "192.0.2.10") as client:
            for _ in range(3):
                assert (await login(client, user["email"])).status_code == 200

            response = await client.post(
                f"{API}/auth/token", data={"username": user["email"], "password": "a-long-test-password-42"}
            )

            assert_rate_limited(response)


async def test_the_sixth_api_request_of_a_user_within_a_minute_is_rate_limited(make_env):
    async with make_env(api_rate_limit="5/minute") as env:
        user = await create_user(env)
        headers = bearer((await token_pair(env.client, user["email"]))["access_token"])
        for _ in range(5):
            assert (await me(env.client, headers)).status_code == 200

        assert_rate_limited(await me(env.client, headers))
        # The limit is per user: the admin (one request so far) is not affected.
        assert (await me(env.client, env.admin)).status_code == 200
