"""One's own profile (name and phone) and sessions: listed with their user agent and last use, revocable one by one,
a revoked session's refresh and access tokens dead at once; other users' sessions do not exist for you."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from tests.harness import USER_PASSWORD
from tests.identity.helpers import API, assert_problem, bearer, create_user, error_locs, me, refresh

PROFILE = f"{API}/auth/profile"
SESSIONS = f"{API}/auth/sessions"


async def login_as(env, email: str, user_agent: str | None = None) -> dict:
    headers = {"User-Agent": user_agent} if user_agent else {}
    response = await env.client.post(
        f"{API}/auth/login", json={"email": email, "password": USER_PASSWORD}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def patch_profile(env, headers: dict[str, str], changes: dict, version: str | None = None):
    if version is None:
        version = (await env.client.get(PROFILE, headers=headers)).headers["ETag"]
    return await env.client.patch(PROFILE, json=changes, headers={**headers, "If-Match": version})


async def test_the_profile_is_ones_own_and_carries_its_version(env):
    user = await create_user(env, full_name="Meera Iyer")
    headers = bearer((await login_as(env, user["email"]))["access_token"])

    response = await env.client.get(PROFILE, headers=headers)

    assert response.status_code == 200, response.text
    profile = response.json()
    assert (profile["id"], profile["email"], profile["full_name"], profile["phone"]) == (
        user["id"],
        user["email"],
        "Meera Iyer",
        None,
    )
    assert profile["roles"] == ["receptionist"]
    assert response.headers["ETag"] == f'"{profile["version"]}"'


async def test_a_user_changes_their_name_and_phone_and_clears_the_phone(env):
    user = await create_user(env)
    headers = bearer((await login_as(env, user["email"]))["access_token"])

    with capture_logs() as logs:
        changed = await patch_profile(env, headers, {"full_name": "  Meera K. Iyer ", "phone": "+91 98450 12345"})

    assert changed.status_code == 200, changed.text
    assert (changed.json()["full_name"], changed.json()["phone"]) == ("Meera K. Iyer", "+919845012345")
    assert "9845012345" not in repr(logs)
    cleared = await patch_profile(env, headers, {"phone": None})
    assert (cleared.json()["phone"], cleared.json()["full_name"]) == (None, "Meera K. Iyer")
    assert cleared.json()["version"] == changed.json()["version"] + 1
    assert (await env.client.get(f"{API}/users/{user['id']}", headers=env.admin)).json()["full_name"] == "Meera K. Iyer"


async def test_a_profile_cannot_change_email_or_roles_nor_take_a_bad_phone_or_a_stale_version(env):
    user = await create_user(env)
    headers = bearer((await login_as(env, user["email"]))["access_token"])
    version = (await env.client.get(PROFILE, headers=headers)).headers["ETag"]

    for forbidden in ({"roles": ["admin"]}, {"email": "other@example.org"}):
        assert_problem(await patch_profile(env, headers, forbidden, version), 422, "VALIDATION_ERROR")
    bad_phone = assert_problem(
        await patch_profile(env, headers, {"phone": "call me"}, version), 422, "VALIDATION_ERROR"
    )
    assert ["phone"] in error_locs(bad_phone)
    assert_problem(await patch_profile(env, headers, {"full_name": None}, version), 422, "VALIDATION_ERROR")
    assert (await patch_profile(env, headers, {"full_name": "First"}, version)).status_code == 200

    assert_problem(await patch_profile(env, headers, {"full_name": "Second"}, version), 412, "VERSION_CONFLICT")
    profile = (await env.client.get(PROFILE, headers=headers)).json()
    assert (profile["full_name"], profile["roles"]) == ("First", ["receptionist"])


async def test_the_profile_needs_a_token(env):
    assert_problem(await env.client.get(PROFILE), 401, "UNAUTHENTICATED")
    assert_problem(await env.client.patch(PROFILE, json={"full_name": "X"}), 401, "UNAUTHENTICATED")


async def test_sessions_list_ones_own_live_sessions_with_user_agent_last_use_and_which_is_current(env):
    user = await create_user(env)
    other = await create_user(env)
    await login_as(env, other["email"], "Other/1.0")
    phone = await login_as(env, user["email"], "CareMeshApp/2.1 (Android 14)")
    env.clock.advance(minutes=5)
    desk = await login_as(env, user["email"], "Mozilla/5.0 " + "x" * 400)
    env.clock.advance(minutes=5)
    assert (await refresh(env.client, phone["refresh_token"])).status_code == 200

    response = await env.client.get(SESSIONS, headers=bearer(desk["access_token"]))

    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    first, second = page["items"]
    assert (first["user_agent"], first["current"]) == ("CareMeshApp/2.1 (Android 14)", False)
    assert first["last_used_at"] > first["created_at"]  # refreshed five minutes after login
    assert second["current"] is True
    assert second["user_agent"].startswith("Mozilla/5.0 ")
    assert len(second["user_agent"]) == 200
    assert second["last_used_at"] == second["created_at"]


async def test_logged_out_revoked_and_expired_sessions_are_not_listed(env):
    user = await create_user(env)
    gone = await login_as(env, user["email"])
    assert (await env.client.post(f"{API}/auth/logout", headers=bearer(gone["access_token"]))).status_code == 204
    stale = await login_as(env, user["email"])
    env.clock.advance(days=7, seconds=1)  # its refresh token has expired
    live = await login_as(env, user["email"])

    page = (await env.client.get(SESSIONS, headers=bearer(live["access_token"]))).json()

    assert [s["current"] for s in page["items"]] == [True]
    assert stale["refresh_token"] != live["refresh_token"]


async def test_revoking_a_session_kills_its_refresh_and_access_tokens_at_once_and_keeps_the_others(env):
    user = await create_user(env)
    lost = await login_as(env, user["email"], "Lost phone")
    here = await login_as(env, user["email"], "Desk")
    here_headers = bearer(here["access_token"])
    [lost_session] = [
        s for s in (await env.client.get(SESSIONS, headers=here_headers)).json()["items"] if not s["current"]
    ]

    response = await env.client.delete(f"{SESSIONS}/{lost_session['id']}", headers=here_headers)

    assert response.status_code == 204, response.text
    assert_problem(await refresh(env.client, lost["refresh_token"]), 401, "INVALID_REFRESH_TOKEN")
    assert_problem(await me(env.client, bearer(lost["access_token"])), 401, "UNAUTHENTICATED")
    assert (await me(env.client, here_headers)).status_code == 200
    assert (await refresh(env.client, here["refresh_token"])).status_code == 200
    assert await env.count("audit_events", "action = 'auth.session_revoked'") == 1
    # Revoked once: a second time it is gone.
    assert_problem(
        await env.client.delete(f"{SESSIONS}/{lost_session['id']}", headers=here_headers), 404, "SESSION_NOT_FOUND"
    )


async def test_revoking_the_current_session_logs_out(env):
    user = await create_user(env)
    pair = await login_as(env, user["email"])
    headers = bearer(pair["access_token"])
    [current] = (await env.client.get(SESSIONS, headers=headers)).json()["items"]

    assert (await env.client.delete(f"{SESSIONS}/{current['id']}", headers=headers)).status_code == 204

    assert_problem(await me(env.client, headers), 401, "UNAUTHENTICATED")


async def test_another_users_session_is_not_found_and_stays_alive(env):
    owner = await create_user(env)
    intruder = await create_user(env)
    owner_pair = await login_as(env, owner["email"])
    [session] = (await env.client.get(SESSIONS, headers=bearer(owner_pair["access_token"]))).json()["items"]
    intruder_headers = bearer((await login_as(env, intruder["email"]))["access_token"])

    response = await env.client.delete(f"{SESSIONS}/{session['id']}", headers=intruder_headers)

    assert_problem(response, 404, "SESSION_NOT_FOUND")
    assert_problem(await env.client.delete(f"{SESSIONS}/{session['id']}", headers=env.admin), 404, "SESSION_NOT_FOUND")
    assert (await me(env.client, bearer(owner_pair["access_token"]))).status_code == 200
    assert (await refresh(env.client, owner_pair["refresh_token"])).status_code == 200


async def test_a_refresh_racing_a_revocation_never_outlives_it(env):
    user = await create_user(env)
    pair = await login_as(env, user["email"])
    here = bearer((await login_as(env, user["email"]))["access_token"])
    [target] = [s for s in (await env.client.get(SESSIONS, headers=here)).json()["items"] if not s["current"]]
    await env.warm_pool()

    revoked, refreshed = await asyncio.gather(
        env.client.delete(f"{SESSIONS}/{target['id']}", headers=here), refresh(env.client, pair["refresh_token"])
    )

    assert revoked.status_code == 204, revoked.text
    if refreshed.status_code == 200:  # the refresh came first: what it issued dies with the session
        assert_problem(await refresh(env.client, refreshed.json()["refresh_token"]), 401, "INVALID_REFRESH_TOKEN")
        assert_problem(await me(env.client, bearer(refreshed.json()["access_token"])), 401, "UNAUTHENTICATED")
    else:
        assert_problem(refreshed, 401, "INVALID_REFRESH_TOKEN")
