"""Logging in: the token pair, uniform failures, lockout after repeated failures, token lifetime."""

from __future__ import annotations

import asyncio

import jwt

from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, USER_PASSWORD
from tests.identity.helpers import API, assert_problem, bearer, create_user, login, me

WRONG = "not-the-right-password-7"
# Fields that differ per request by design; everything else of the 401 must be identical.
REQUEST_SPECIFIC = {"instance", "request_id", "trace_id"}


async def fail_login(env, email: str, times: int = 1, *, minutes_between: float = 0) -> None:
    for _ in range(times):
        assert_problem(await login(env.client, email, WRONG), 401, "INVALID_CREDENTIALS")
        if minutes_between:
            env.clock.advance(minutes=minutes_between)


async def test_login_returns_a_bearer_token_pair_valid_for_15_minutes(env):
    user = await create_user(env)

    response = await login(env.client, user["email"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert body.keys() == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["access_token"]
    assert body["refresh_token"]
    assert body["access_token"] != body["refresh_token"]
    whoami = await me(env.client, bearer(body["access_token"]))
    assert whoami.status_code == 200
    assert whoami.json()["id"] == user["id"]


async def test_login_email_is_case_insensitive(env):
    user = await create_user(env)

    response = await login(env.client, user["email"].upper())

    assert response.status_code == 200, response.text


async def test_wrong_password_and_unknown_email_get_the_same_answer(env):
    user = await create_user(env)

    wrong_password = await login(env.client, user["email"], WRONG)
    unknown_email = await login(env.client, "nobody-here@example.org", WRONG)

    first = assert_problem(wrong_password, 401, "INVALID_CREDENTIALS")
    second = assert_problem(unknown_email, 401, "INVALID_CREDENTIALS")
    strip = lambda body: {k: v for k, v in body.items() if k not in REQUEST_SPECIFIC}  # noqa: E731
    assert strip(first) == strip(second)
    assert wrong_password.headers.get("WWW-Authenticate") == unknown_email.headers.get("WWW-Authenticate")


async def test_five_failures_lock_the_account_even_against_the_right_password(env):
    user = await create_user(env)
    await fail_login(env, user["email"], 5)

    response = await login(env.client, user["email"], USER_PASSWORD)

    assert_problem(response, 423, "ACCOUNT_LOCKED")
    assert 14 * 60 < int(response.headers["Retry-After"]) <= 15 * 60 + 1


async def test_four_failures_do_not_lock(env):
    user = await create_user(env)
    await fail_login(env, user["email"], 4)

    assert (await login(env.client, user["email"])).status_code == 200


async def test_a_locked_account_opens_again_after_15_minutes(env):
    user = await create_user(env)
    await fail_login(env, user["email"], 5)
    env.clock.advance(minutes=14)
    assert_problem(await login(env.client, user["email"]), 423, "ACCOUNT_LOCKED")

    env.clock.advance(minutes=2)

    assert (await login(env.client, user["email"])).status_code == 200


async def test_retry_after_counts_down_while_locked(env):
    user = await create_user(env)
    await fail_login(env, user["email"], 5)
    env.clock.advance(minutes=10)

    response = await login(env.client, user["email"])

    assert_problem(response, 423, "ACCOUNT_LOCKED")
    assert 4 * 60 < int(response.headers["Retry-After"]) <= 5 * 60 + 1


async def test_failures_spread_over_more_than_15_minutes_do_not_lock(env):
    user = await create_user(env)
    # One failure every 4 minutes: any five of them span 16 minutes.
    await fail_login(env, user["email"], 8, minutes_between=4)

    assert (await login(env.client, user["email"])).status_code == 200


async def test_five_failures_within_15_minutes_lock_even_across_an_earlier_failure_window(env):
    """API.md: 'After 5 failures in 15 minutes the account is locked'. Failures at minutes
    0, 10, 11, 12, 16 and 17: the last five fall within 7 minutes, so the account must lock."""
    user = await create_user(env)
    await fail_login(env, user["email"])  # minute 0
    env.clock.advance(minutes=10)
    await fail_login(env, user["email"], 3, minutes_between=1)  # minutes 10, 11, 12
    env.clock.advance(minutes=3)
    await fail_login(env, user["email"], 2, minutes_between=1)  # minutes 16, 17

    assert_problem(await login(env.client, user["email"]), 423, "ACCOUNT_LOCKED")


async def test_a_successful_login_resets_the_failure_count(env):
    user = await create_user(env)
    await fail_login(env, user["email"], 4)
    assert (await login(env.client, user["email"])).status_code == 200

    await fail_login(env, user["email"], 4)

    assert (await login(env.client, user["email"])).status_code == 200


async def test_a_disabled_user_cannot_log_in(env):
    user = await create_user(env)
    current = await env.client.get(f"{API}/users/{user['id']}", headers=env.admin)
    disabled = await env.client.patch(
        f"{API}/users/{user['id']}", json={"active": False}, headers={**env.admin, "If-Match": current.headers["ETag"]}
    )
    assert disabled.status_code == 200, disabled.text

    assert_problem(await login(env.client, user["email"]), 401, "INVALID_CREDENTIALS")


async def test_access_token_expires_after_15_minutes(env):
    user = await create_user(env)
    headers = bearer((await login(env.client, user["email"])).json()["access_token"])
    env.clock.advance(minutes=14, seconds=59)
    assert (await me(env.client, headers)).status_code == 200

    env.clock.advance(seconds=1)

    assert_problem(await me(env.client, headers), 401, "UNAUTHENTICATED")


async def test_a_forged_or_garbled_access_token_is_unauthenticated(env):
    user = await create_user(env)
    token = (await login(env.client, user["email"])).json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "roles": ["admin"]}, "some-other-secret-of-sufficient-length!", algorithm="HS256")

    for bad in (forged, token[:-4] + "AAAA", "not-a-jwt"):
        assert_problem(await me(env.client, bearer(bad)), 401, "UNAUTHENTICATED")


async def test_oauth2_password_form_endpoint_serves_the_docs_authorize_button(env):
    response = await env.client.post(
        f"{API}/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "grant_type": "password"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert (await me(env.client, bearer(body["access_token"]))).json()["email"] == ADMIN_EMAIL


async def test_oauth2_password_form_endpoint_refuses_a_wrong_password(env):
    response = await env.client.post(f"{API}/auth/token", data={"username": ADMIN_EMAIL, "password": WRONG})

    assert_problem(response, 401, "INVALID_CREDENTIALS")


async def test_openapi_declares_the_password_flow_for_docs(env):
    schema = (await env.client.get("/openapi.json")).json()

    flows = [s.get("flows", {}) for s in schema["components"]["securitySchemes"].values()]
    assert any(f.get("password", {}).get("tokenUrl") == f"{API}/auth/token" for f in flows)


async def test_concurrent_failures_all_count_towards_the_lockout(env):
    user = await create_user(env)
    await env.warm_pool()

    responses = await asyncio.gather(*(login(env.client, user["email"], WRONG) for _ in range(10)))

    assert sorted(r.status_code for r in responses) == [401] * 5 + [423] * 5
    assert_problem(await login(env.client, user["email"]), 423, "ACCOUNT_LOCKED")
