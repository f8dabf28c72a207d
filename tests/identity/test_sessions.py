"""Sessions: rotating refresh tokens, reuse detection, logout, /auth/me and changing the password."""

from __future__ import annotations

import asyncio

from tests.harness import USER_PASSWORD
from tests.identity.helpers import (
    API,
    assert_problem,
    bearer,
    create_user,
    error_locs,
    login,
    me,
    refresh,
    token_pair,
)

NEW_PASSWORD = "another-long-password-77"


async def change_password(env, headers, current: str, new: str):
    return await env.client.post(
        f"{API}/auth/change-password", json={"current_password": current, "new_password": new}, headers=headers
    )


async def test_refresh_returns_a_new_pair_and_rotates_the_refresh_token(env):
    user = await create_user(env)
    first = await token_pair(env.client, user["email"])

    response = await refresh(env.client, first["refresh_token"])

    assert response.status_code == 200, response.text
    second = response.json()
    assert second.keys() == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await me(env.client, bearer(second["access_token"]))).json()["id"] == user["id"]
    assert (await refresh(env.client, second["refresh_token"])).status_code == 200


async def test_reusing_a_used_refresh_token_revokes_the_whole_family(env):
    user = await create_user(env)
    first = await token_pair(env.client, user["email"])
    second = (await refresh(env.client, first["refresh_token"])).json()

    reuse = await refresh(env.client, first["refresh_token"])

    assert_problem(reuse, 401, "INVALID_REFRESH_TOKEN")
    assert_problem(await refresh(env.client, second["refresh_token"]), 401, "INVALID_REFRESH_TOKEN")
    assert_problem(await me(env.client, bearer(second["access_token"])), 401, "UNAUTHENTICATED")
    assert_problem(await me(env.client, bearer(first["access_token"])), 401, "UNAUTHENTICATED")


async def test_reuse_revokes_only_that_session(env):
    user = await create_user(env)
    victim = await token_pair(env.client, user["email"])
    other = await token_pair(env.client, user["email"])
    await refresh(env.client, victim["refresh_token"])

    await refresh(env.client, victim["refresh_token"])

    assert (await me(env.client, bearer(other["access_token"]))).status_code == 200
    assert (await refresh(env.client, other["refresh_token"])).status_code == 200


async def test_concurrent_reuse_of_one_refresh_token_lets_exactly_one_through_and_revokes_the_family(env):
    user = await create_user(env)
    pair = await token_pair(env.client, user["email"])
    await env.warm_pool()

    responses = await asyncio.gather(*(refresh(env.client, pair["refresh_token"]) for _ in range(10)))

    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.status_code for r in responses]
    for loser in responses:
        if loser.status_code != 200:
            assert_problem(loser, 401, "INVALID_REFRESH_TOKEN")
    issued = winners[0].json()
    assert_problem(await refresh(env.client, issued["refresh_token"]), 401, "INVALID_REFRESH_TOKEN")
    assert_problem(await me(env.client, bearer(issued["access_token"])), 401, "UNAUTHENTICATED")


async def test_unknown_refresh_token_is_refused(env):
    assert_problem(await refresh(env.client, "no-such-token"), 401, "INVALID_REFRESH_TOKEN")


async def test_refresh_token_expires_after_7_days(env):
    user = await create_user(env)
    pair = await token_pair(env.client, user["email"])
    env.clock.advance(days=7)

    assert_problem(await refresh(env.client, pair["refresh_token"]), 401, "INVALID_REFRESH_TOKEN")


async def test_refresh_token_still_works_just_before_7_days(env):
    user = await create_user(env)
    pair = await token_pair(env.client, user["email"])
    env.clock.advance(days=6, hours=23, minutes=59)

    assert (await refresh(env.client, pair["refresh_token"])).status_code == 200


async def test_logout_revokes_the_access_and_refresh_tokens(env):
    user = await create_user(env)
    pair = await token_pair(env.client, user["email"])
    headers = bearer(pair["access_token"])

    response = await env.client.post(f"{API}/auth/logout", headers=headers)

    assert response.status_code == 204
    assert_problem(await me(env.client, headers), 401, "UNAUTHENTICATED")
    assert_problem(await refresh(env.client, pair["refresh_token"]), 401, "INVALID_REFRESH_TOKEN")


async def test_logout_leaves_the_users_other_sessions_alone(env):
    user = await create_user(env)
    leaving = await token_pair(env.client, user["email"])
    staying = await token_pair(env.client, user["email"])

    await env.client.post(f"{API}/auth/logout", headers=bearer(leaving["access_token"]))

    assert (await me(env.client, bearer(staying["access_token"]))).status_code == 200


async def test_logout_needs_a_token(env):
    assert_problem(await env.client.post(f"{API}/auth/logout"), 401, "UNAUTHENTICATED")


async def test_me_describes_the_caller_without_secrets(env):
    user = await create_user(env, roles=["doctor", "nurse"])
    headers = bearer((await token_pair(env.client, user["email"]))["access_token"])

    response = await me(env.client, headers)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == user["id"]
    assert body["email"] == user["email"]
    assert body["roles"] == ["doctor", "nurse"]
    assert body["active"] is True
    assert not {"password", "password_hash"} & body.keys()


async def test_me_without_a_token_is_unauthenticated(env):
    response = await env.client.get(f"{API}/auth/me")

    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


async def test_change_password_with_a_wrong_current_password_is_refused(env):
    user = await create_user(env)
    headers = bearer((await token_pair(env.client, user["email"]))["access_token"])

    response = await change_password(env, headers, "not-my-password-123", NEW_PASSWORD)

    assert_problem(response, 422, "INVALID_CURRENT_PASSWORD")
    assert (await login(env.client, user["email"], USER_PASSWORD)).status_code == 200


async def test_change_password_to_a_weak_one_is_refused(env):
    user = await create_user(env)
    headers = bearer((await token_pair(env.client, user["email"]))["access_token"])

    for weak in ("short-1", "password1234", user["email"], USER_PASSWORD):
        body = assert_problem(await change_password(env, headers, USER_PASSWORD, weak), 422, "WEAK_PASSWORD")
        assert ["new_password"] in error_locs(body)
    assert (await login(env.client, user["email"], USER_PASSWORD)).status_code == 200


async def test_change_password_keeps_the_current_session_and_ends_the_others(env):
    user = await create_user(env)
    current = await token_pair(env.client, user["email"])
    other = await token_pair(env.client, user["email"])

    response = await change_password(env, bearer(current["access_token"]), USER_PASSWORD, NEW_PASSWORD)

    assert response.status_code == 204, response.text
    assert (await me(env.client, bearer(current["access_token"]))).status_code == 200
    assert (await refresh(env.client, current["refresh_token"])).status_code == 200
    assert_problem(await me(env.client, bearer(other["access_token"])), 401, "UNAUTHENTICATED")
    assert_problem(await refresh(env.client, other["refresh_token"]), 401, "INVALID_REFRESH_TOKEN")
    assert_problem(await login(env.client, user["email"], USER_PASSWORD), 401, "INVALID_CREDENTIALS")
    assert (await login(env.client, user["email"], NEW_PASSWORD)).status_code == 200
