"""Password reset: a one-time, 30-minute token delivered through the `user.password_reset_requested` event."""

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
    outbox_payloads,
    token_pair,
)

RESET_EVENT = "user.password_reset_requested"
NEW_PASSWORD = "a-brand-new-password-31"


async def request_reset(env, email: str):
    return await env.client.post(f"{API}/auth/password-reset/request", json={"email": email})


async def confirm_reset(env, token: str, new_password: str = NEW_PASSWORD):
    return await env.client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "new_password": new_password}
    )


async def reset_token_for(env, email: str) -> str:
    """Request a reset and read the token the notifications context would deliver."""
    assert (await request_reset(env, email)).status_code == 202
    payloads = await outbox_payloads(env, RESET_EVENT)
    assert payloads, "no reset event was published"
    latest = payloads[-1]
    assert latest["email"] == email
    return latest["reset_token"]


async def test_reset_request_is_accepted_and_publishes_the_token_for_delivery(env):
    user = await create_user(env)

    response = await request_reset(env, user["email"])

    assert response.status_code == 202
    [payload] = await outbox_payloads(env, RESET_EVENT)
    assert payload["user_id"] == user["id"]
    assert payload["email"] == user["email"]
    assert len(payload["reset_token"]) >= 32


async def test_reset_request_for_an_unknown_email_is_accepted_but_publishes_nothing(env):
    response = await request_reset(env, "nobody-known@example.org")

    assert response.status_code == 202
    assert await outbox_payloads(env, RESET_EVENT) == []


async def test_reset_request_for_a_disabled_user_publishes_nothing(env):
    user = await create_user(env)
    current = await env.client.get(f"{API}/users/{user['id']}", headers=env.admin)
    await env.client.patch(
        f"{API}/users/{user['id']}", json={"active": False}, headers={**env.admin, "If-Match": current.headers["ETag"]}
    )

    assert (await request_reset(env, user["email"])).status_code == 202
    assert await outbox_payloads(env, RESET_EVENT) == []


async def test_the_reset_token_is_stored_only_as_a_digest(env):
    user = await create_user(env)
    token = await reset_token_for(env, user["email"])

    assert await env.count("password_reset_tokens", "token_hash = :raw", raw=token) == 0
    assert await env.count("password_reset_tokens") == 1


async def test_confirm_sets_the_new_password(env):
    user = await create_user(env)
    token = await reset_token_for(env, user["email"])

    response = await confirm_reset(env, token)

    assert response.status_code == 204, response.text
    assert_problem(await login(env.client, user["email"], USER_PASSWORD), 401, "INVALID_CREDENTIALS")
    assert (await login(env.client, user["email"], NEW_PASSWORD)).status_code == 200


async def test_confirm_ends_every_existing_session(env):
    user = await create_user(env)
    pair = await token_pair(env.client, user["email"])
    token = await reset_token_for(env, user["email"])

    assert (await confirm_reset(env, token)).status_code == 204

    assert_problem(await me(env.client, bearer(pair["access_token"])), 401, "UNAUTHENTICATED")


async def test_confirm_unlocks_a_locked_account(env):
    user = await create_user(env)
    for _ in range(5):
        await login(env.client, user["email"], "wrong-password-0000")
    assert_problem(await login(env.client, user["email"]), 423, "ACCOUNT_LOCKED")
    token = await reset_token_for(env, user["email"])

    assert (await confirm_reset(env, token)).status_code == 204

    assert (await login(env.client, user["email"], NEW_PASSWORD)).status_code == 200


async def test_a_reset_token_works_only_once(env):
    user = await create_user(env)
    token = await reset_token_for(env, user["email"])
    assert (await confirm_reset(env, token)).status_code == 204

    again = await confirm_reset(env, token, "yet-another-password-55")

    assert_problem(again, 400, "INVALID_RESET_TOKEN")
    assert (await login(env.client, user["email"], NEW_PASSWORD)).status_code == 200


async def test_a_reset_token_expires_after_30_minutes(env):
    user = await create_user(env)
    token = await reset_token_for(env, user["email"])
    env.clock.advance(minutes=30)

    assert_problem(await confirm_reset(env, token), 400, "INVALID_RESET_TOKEN")
    assert (await login(env.client, user["email"], USER_PASSWORD)).status_code == 200


async def test_a_reset_token_works_just_before_30_minutes(env):
    user = await create_user(env)
    token = await reset_token_for(env, user["email"])
    env.clock.advance(minutes=29, seconds=59)

    assert (await confirm_reset(env, token)).status_code == 204


async def test_an_unknown_reset_token_is_refused(env):
    assert_problem(await confirm_reset(env, "made-up-token"), 400, "INVALID_RESET_TOKEN")


async def test_a_weak_new_password_is_refused_and_the_token_stays_usable(env):
    user = await create_user(env)
    token = await reset_token_for(env, user["email"])

    body = assert_problem(await confirm_reset(env, token, "password1234"), 422, "WEAK_PASSWORD")

    assert ["new_password"] in error_locs(body)
    assert (await confirm_reset(env, token)).status_code == 204


async def test_concurrent_confirms_with_one_token_let_exactly_one_through(env):
    user = await create_user(env)
    token = await reset_token_for(env, user["email"])
    await env.warm_pool()

    responses = await asyncio.gather(*(confirm_reset(env, token, f"{NEW_PASSWORD}-{n}") for n in range(5)))

    assert sorted(r.status_code for r in responses) == [204, 400, 400, 400, 400]
    [winner] = [n for n, r in enumerate(responses) if r.status_code == 204]
    assert (await login(env.client, user["email"], f"{NEW_PASSWORD}-{winner}")).status_code == 200
