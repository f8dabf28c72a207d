"""User administration: creation rules, roles, disabling, the last admin, optimistic locking, bootstrap."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from caremesh.identity.models import User
from caremesh.platform.settings import SecuritySettings, Settings
from tests.builders.patients import make_patient, patient_body
from tests.harness import ADMIN_EMAIL, running_env
from tests.identity.helpers import (
    API,
    all_pages,
    assert_problem,
    bearer,
    create_user,
    error_locs,
    login,
    me,
    new_email,
    patch_user,
    refresh,
    token_pair,
    user_body,
)


async def post_user(env, headers=None, **overrides):
    return await env.client.post(
        f"{API}/users", json=user_body(**overrides), headers=env.admin if headers is None else headers
    )


async def admin_id(env) -> str:
    return (await me(env.client, env.admin)).json()["id"]


async def active_admins(env) -> int:
    async with env.db.engine.connect() as connection:
        rows = (await connection.execute(select(User.roles, User.is_active))).all()
    return sum(1 for roles, active in rows if active and "admin" in roles)


async def test_admin_creates_a_user(env):
    email = new_email()

    response = await post_user(env, email=email, roles=["nurse", "doctor", "nurse"])

    assert response.status_code == 201, response.text
    body = response.json()
    uuid.UUID(body["id"])
    assert body["email"] == email
    assert body["full_name"] == "Test User"
    assert body["roles"] == ["doctor", "nurse"]
    assert body["active"] is True
    assert body["version"] == 1
    assert response.headers["ETag"] == '"1"'
    assert not {"password", "password_hash"} & body.keys()
    fetched = await env.client.get(f"{API}/users/{body['id']}", headers=env.admin)
    assert fetched.json() == body


async def test_passwords_are_stored_as_argon2id_hashes(env):
    user = await create_user(env)

    async with env.db.engine.connect() as connection:
        stored = (await connection.execute(select(User.password_hash).where(User.id == uuid.UUID(user["id"])))).scalar()
    assert stored.startswith("$argon2id$")


async def test_emails_are_stored_lower_case(env):
    response = await post_user(env, email="Mixed.Case@Example.ORG")

    assert response.json()["email"] == "mixed.case@example.org"


@pytest.mark.parametrize(
    "email", ["nurse@ward.hospital.local", "Lab.Tech@Pathology.Internal", "pharmacy@clinic.home.arpa"]
)
async def test_staff_on_an_intranet_mail_domain_are_users_who_log_in_and_get_reset_mail(env, email):
    response = await post_user(env, email=email)
    assert response.status_code == 201, response.text
    assert response.json()["email"] == email.lower()
    assert (await login(env.client, email)).status_code == 200

    assert (await env.client.post(f"{API}/auth/password-reset/request", json={"email": email})).status_code == 202
    await env.drain()
    assert await env.count("notifications", "recipient = :email", email=email.lower()) == 1


@pytest.mark.parametrize(
    "email",
    [
        "nurse@localhost",
        "nurse@ward.invalid",
        "nurse@ward.onion",
        "nurse@ward..local",
        "nurse@.local",
        "@ward.hospital.local",
        "nurse ward@hospital.local",
        "nurse@local",
    ],
)
async def test_intranet_addresses_still_follow_the_address_syntax(env, email):
    before = await env.count("users")
    body = assert_problem(await post_user(env, email=email), 422, "VALIDATION_ERROR")
    assert error_locs(body) == [["email"]]
    assert await env.count("users") == before


async def test_duplicate_email_is_refused_whatever_its_case(env):
    assert (await post_user(env, email="dup.user@example.org")).status_code == 201
    before = await env.count("users")

    response = await post_user(env, email="Dup.User@EXAMPLE.org")

    assert_problem(response, 409, "EMAIL_TAKEN")
    assert await env.count("users") == before


async def test_concurrent_creation_with_one_email_makes_one_user(env):
    email = new_email("race")
    await env.warm_pool()

    responses = await asyncio.gather(*(post_user(env, email=email) for _ in range(5)))

    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    assert await env.count("users", "email = :email", email=email) == 1


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("short-pass1", id="too-short"),
        pytest.param("{email}", id="equals-email"),
        pytest.param("{EMAIL}", id="equals-email-any-case"),
        pytest.param("password1234", id="common"),
        pytest.param("Password1234", id="common-any-case"),
        pytest.param("x" * 129, id="too-long"),
    ],
)
async def test_weak_passwords_are_refused(env, password):
    email = new_email("someone-with-a-long-address")
    before = await env.count("users")

    response = await post_user(env, email=email, password=password.format(email=email, EMAIL=email.upper()))

    body = assert_problem(response, 422, "WEAK_PASSWORD")
    assert ["password"] in error_locs(body)
    assert await env.count("users") == before


async def test_patient_role_requires_a_patient_id(env):
    response = await post_user(env, roles=["patient"])

    body = assert_problem(response, 422, "VALIDATION_ERROR")
    assert ["patient_id"] in error_locs(body)


async def test_patient_role_with_an_unknown_patient_is_not_found(env):
    response = await post_user(env, roles=["patient"], patient_id=str(uuid.uuid4()))

    assert_problem(response, 404, "PATIENT_NOT_FOUND")


async def test_patient_role_with_a_deleted_patient_is_not_found(env):
    patient = await make_patient(env)
    assert (await env.client.delete(f"{API}/patients/{patient['id']}", headers=env.admin)).status_code == 204

    response = await post_user(env, roles=["patient"], patient_id=patient["id"])

    assert_problem(response, 404, "PATIENT_NOT_FOUND")


async def test_patient_user_is_linked_to_their_record(env):
    patient = await make_patient(env)

    response = await post_user(env, roles=["patient"], patient_id=patient["id"])

    assert response.status_code == 201, response.text
    assert response.json()["patient_id"] == patient["id"]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"roles": []}, id="no-roles"),
        pytest.param({"roles": ["superuser"]}, id="unknown-role"),
        pytest.param({"email": "not-an-email"}, id="bad-email"),
        pytest.param({"full_name": ""}, id="empty-name"),
        pytest.param({"is_admin": True}, id="unknown-field"),
    ],
)
async def test_malformed_user_bodies_are_422(env, overrides):
    before = await env.count("users")

    response = await post_user(env, **overrides)

    body = assert_problem(response, 422, "VALIDATION_ERROR")
    assert error_locs(body)
    assert await env.count("users") == before


@pytest.mark.parametrize("role", ["receptionist", "doctor", "nurse", "billing_clerk", "claims_officer"])
async def test_only_admins_manage_users(env, role):
    headers = await env.user(roles=[role])
    target = await create_user(env)

    assert_problem(await post_user(env, headers=headers), 403, "FORBIDDEN")
    assert_problem(await env.client.get(f"{API}/users", headers=headers), 403, "FORBIDDEN")
    assert_problem(await env.client.get(f"{API}/users/{target['id']}", headers=headers), 403, "FORBIDDEN")
    assert_problem(
        await env.client.patch(f"{API}/users/{target['id']}", json={"active": False}, headers=headers),
        403,
        "FORBIDDEN",
    )


async def test_user_endpoints_without_a_token_are_unauthenticated(env):
    for method, path in [("POST", "/users"), ("GET", "/users"), ("GET", f"/users/{uuid.uuid4()}")]:
        response = await env.client.request(method, f"{API}{path}", json=user_body() if method == "POST" else None)
        assert_problem(response, 401, "UNAUTHENTICATED")


async def test_list_users_pages_through_everyone(env):
    created = {(await create_user(env))["id"] for _ in range(4)}

    seen = [u["id"] for u in await all_pages(env.client, f"{API}/users", env.admin, limit=2)]

    assert len(seen) == len(set(seen)) == 5  # the admin and four more
    assert created <= set(seen)


async def test_unknown_user_is_404(env):
    assert_problem(await env.client.get(f"{API}/users/{uuid.uuid4()}", headers=env.admin), 404, "USER_NOT_FOUND")


async def test_patch_changes_roles_and_bumps_the_version(env):
    user = await create_user(env)

    response = await patch_user(env, user["id"], {"roles": ["doctor"]})

    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["doctor"]
    assert response.json()["version"] == 2
    assert response.headers["ETag"] == '"2"'


async def test_patch_with_a_stale_if_match_is_a_version_conflict(env):
    user = await create_user(env)
    assert (await patch_user(env, user["id"], {"roles": ["doctor"]})).status_code == 200

    stale = await env.client.patch(
        f"{API}/users/{user['id']}", json={"roles": ["nurse"]}, headers={**env.admin, "If-Match": '"1"'}
    )

    assert_problem(stale, 412, "VERSION_CONFLICT")
    assert (await env.client.get(f"{API}/users/{user['id']}", headers=env.admin)).json()["roles"] == ["doctor"]


async def test_role_change_takes_effect_on_the_next_request_with_the_same_token(env):
    user = await create_user(env, roles=["receptionist"])
    headers = bearer((await token_pair(env.client, user["email"]))["access_token"])
    assert (await env.client.post(f"{API}/patients", json=patient_body(), headers=headers)).status_code == 201
    assert_problem(await env.client.get(f"{API}/users", headers=headers), 403, "FORBIDDEN")

    assert (await patch_user(env, user["id"], {"roles": ["admin"]})).status_code == 200
    assert (await env.client.get(f"{API}/users", headers=headers)).status_code == 200

    assert (await patch_user(env, user["id"], {"roles": ["doctor"]})).status_code == 200
    assert_problem(await env.client.post(f"{API}/patients", json=patient_body(), headers=headers), 403, "FORBIDDEN")
    assert_problem(await env.client.get(f"{API}/users", headers=headers), 403, "FORBIDDEN")


async def test_disabling_a_user_ends_their_sessions_at_once(env):
    user = await create_user(env)
    pair = await token_pair(env.client, user["email"])
    headers = bearer(pair["access_token"])
    assert (await me(env.client, headers)).status_code == 200

    response = await patch_user(env, user["id"], {"active": False})

    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert_problem(await me(env.client, headers), 401, "UNAUTHENTICATED")
    assert_problem(await refresh(env.client, pair["refresh_token"]), 401, "INVALID_REFRESH_TOKEN")
    assert_problem(await login(env.client, user["email"]), 401, "INVALID_CREDENTIALS")


async def test_re_enabling_a_user_lets_them_log_in_again(env):
    user = await create_user(env)
    await patch_user(env, user["id"], {"active": False})

    assert (await patch_user(env, user["id"], {"active": True})).status_code == 200

    assert (await login(env.client, user["email"])).status_code == 200


async def test_the_last_admin_cannot_be_demoted_or_disabled(env):
    me_id = await admin_id(env)

    assert_problem(await patch_user(env, me_id, {"roles": ["receptionist"]}), 409, "LAST_ADMIN")
    assert_problem(await patch_user(env, me_id, {"active": False}), 409, "LAST_ADMIN")
    assert (await me(env.client, env.admin)).json()["roles"] == ["admin"]


async def test_an_admin_can_be_demoted_while_another_remains(env):
    second = await create_user(env, roles=["admin"])
    first_id = await admin_id(env)

    assert (await patch_user(env, first_id, {"roles": ["receptionist"]})).status_code == 200

    second_headers = bearer((await token_pair(env.client, second["email"]))["access_token"])
    assert_problem(await patch_user(env, second["id"], {"active": False}, second_headers), 409, "LAST_ADMIN")


async def test_a_disabled_admin_does_not_count_as_the_remaining_admin(env):
    second = await create_user(env, roles=["admin"])
    assert (await patch_user(env, second["id"], {"active": False})).status_code == 200

    assert_problem(await patch_user(env, await admin_id(env), {"roles": ["doctor"]}), 409, "LAST_ADMIN")


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(env):
    second = await create_user(env, roles=["admin"])
    second_headers = bearer((await token_pair(env.client, second["email"]))["access_token"])
    first_id = await admin_id(env)
    first_etag = (await env.client.get(f"{API}/users/{first_id}", headers=env.admin)).headers["ETag"]
    second_etag = (await env.client.get(f"{API}/users/{second['id']}", headers=env.admin)).headers["ETag"]
    await env.warm_pool()

    responses = await asyncio.gather(
        env.client.patch(
            f"{API}/users/{second['id']}", json={"roles": ["doctor"]}, headers={**env.admin, "If-Match": second_etag}
        ),
        env.client.patch(
            f"{API}/users/{first_id}", json={"roles": ["doctor"]}, headers={**second_headers, "If-Match": first_etag}
        ),
    )

    assert sorted(r.status_code for r in responses) != [200, 200], [r.text for r in responses]
    assert await active_admins(env) >= 1


async def test_the_configured_admin_is_bootstrapped(env):
    body = (await me(env.client, env.admin)).json()

    assert body["email"] == ADMIN_EMAIL
    assert body["roles"] == ["admin"]
    assert await env.count("users") == 1


async def test_a_second_start_does_not_create_another_admin(env):
    settings: Settings = env.app.state.settings
    other_admin = settings.security.model_copy(update={"admin_email": "another-admin@example.org"})
    assert isinstance(other_admin, SecuritySettings)

    async with running_env(settings):
        pass
    async with running_env(
        Settings(app=settings.app, db=settings.db, security=other_admin, messaging=settings.messaging)
    ):
        pass

    assert await env.count("users") == 1
    assert await env.count("users", "email = :email", email="another-admin@example.org") == 0
