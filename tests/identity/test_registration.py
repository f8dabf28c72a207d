"""Patient self-registration: off by default (404, as if the route did not exist); when on, an inactive patient
user and a verification token by email; the same answer for a taken address; confirming the address activates the
user and links a new patient record, once, however many confirmations race."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.harness import USER_PASSWORD
from tests.identity.helpers import (
    API,
    assert_problem,
    bearer,
    create_user,
    error_locs,
    login,
    new_email,
    outbox_payloads,
)

REGISTER = f"{API}/auth/register"
VERIFY = f"{API}/auth/verify-email"
VERIFICATION_EVENT = "user.email_verification_requested"
PASSWORD = "a-long-enough-passphrase-42"


def registration(email: str | None = None, **overrides) -> dict:
    return {
        "email": email or new_email("asha"),
        "password": PASSWORD,
        "first_name": "Asha",
        "last_name": "Rao",
        "date_of_birth": "1990-04-12",
        **overrides,
    }


async def register(env, body: dict):
    return await env.client.post(REGISTER, json=body)


async def verification_token(env, email: str) -> str:
    [payload] = [p for p in await outbox_payloads(env, VERIFICATION_EVENT) if p["email"] == email][-1:]
    return payload["verification_token"]


async def verify(env, token: str):
    return await env.client.post(VERIFY, json={"token": token})


@pytest.fixture
async def open_env(make_env):
    async with make_env(self_registration=True) as env:
        yield env


async def test_registration_is_off_by_default_and_answers_like_a_missing_route(env):
    unknown = await env.client.post(f"{API}/auth/no-such-route", json={})

    for response in (await register(env, registration()), await verify(env, "some-token")):
        body = assert_problem(response, 404, "NOT_FOUND")
        assert body["title"] == unknown.json()["title"]
    assert await env.count("users", "email LIKE 'asha-%'") == 0
    assert await outbox_payloads(env, VERIFICATION_EVENT) == []


async def test_registration_makes_an_inactive_patient_user_and_sends_a_token_stored_only_as_a_digest(open_env):
    env = open_env
    body = registration()

    response = await register(env, body)

    assert response.status_code == 202, response.text
    assert response.content == b""
    [payload] = await outbox_payloads(env, VERIFICATION_EVENT)
    assert payload["email"] == body["email"]
    token = payload["verification_token"]
    assert len(token) >= 32
    assert await env.count("email_verification_tokens", "token_hash = :raw", raw=token) == 0
    [user] = [
        u
        for u in (await env.client.get(f"{API}/users", headers=env.admin)).json()["items"]
        if u["email"] == body["email"]
    ]
    assert (user["roles"], user["active"], user["patient_id"], user["full_name"]) == (
        ["patient"],
        False,
        None,
        "Asha Rao",
    )
    # Not yet verified: the right password answers as a wrong one would.
    assert_problem(await login(env.client, body["email"], PASSWORD), 401, "INVALID_CREDENTIALS")


async def test_verification_activates_the_user_and_links_a_new_patient_record(open_env):
    env = open_env
    body = registration(email=new_email("Asha").upper())
    assert (await register(env, body)).status_code == 202
    email = body["email"].lower()

    response = await verify(env, await verification_token(env, email))

    assert response.status_code == 204, response.text
    pair = await login(env.client, email, PASSWORD)
    assert pair.status_code == 200, pair.text
    headers = bearer(pair.json()["access_token"])
    me = (await env.client.get(f"{API}/auth/me", headers=headers)).json()
    assert (me["active"], me["roles"]) == (True, ["patient"])
    patient = await env.client.get(f"{API}/patients/{me['patient_id']}", headers=headers)
    assert patient.status_code == 200, patient.text
    assert {k: patient.json()[k] for k in ("first_name", "last_name", "date_of_birth", "gender", "email")} == {
        "first_name": "Asha",
        "last_name": "Rao",
        "date_of_birth": "1990-04-12",
        "gender": "unknown",
        "email": email,
    }
    [registered] = await outbox_payloads(env, "patient.registered")
    assert registered["patient_id"] == me["patient_id"]
    # A patient sees only their own record.
    assert (await env.client.get(f"{API}/patients", headers=headers)).json()["items"][0]["id"] == me["patient_id"]


async def test_a_registered_address_gets_the_same_answer_and_nothing_changes(open_env):
    env = open_env
    staff = await create_user(env)
    before = await env.count("users")

    fresh = await register(env, registration())
    taken = await register(env, registration(email=staff["email"], password="another-passphrase-77"))

    assert (taken.status_code, taken.content, taken.headers.get("content-type")) == (
        fresh.status_code,
        fresh.content,
        fresh.headers.get("content-type"),
    )
    assert await env.count("users") == before + 1
    assert [p["email"] for p in await outbox_payloads(env, VERIFICATION_EVENT)] != [staff["email"]]
    assert staff["email"] not in [p["email"] for p in await outbox_payloads(env, VERIFICATION_EVENT)]
    assert (await login(env.client, staff["email"], USER_PASSWORD)).status_code == 200


async def test_a_taken_address_costs_the_same_password_hashing_as_a_new_one(make_env):
    # Production-like Argon2 cost, so that the hashing dominates: a taken address must not answer measurably faster.
    async with make_env(self_registration=True, argon2_time_cost=2, argon2_memory_kib=32 * 1024) as env:
        staff = await create_user(env)

        async def timed(body: dict) -> float:
            started = time.perf_counter()
            assert (await register(env, body)).status_code == 202
            return time.perf_counter() - started

        new = sorted([await timed(registration()) for _ in range(3)])[1]
        taken = sorted([await timed(registration(email=staff["email"])) for _ in range(3)])[1]
        assert taken > new * 0.5


async def test_a_weak_password_a_future_birth_date_and_bad_names_are_refused(open_env):
    env = open_env
    weak = assert_problem(await register(env, registration(password="password1234")), 422, "WEAK_PASSWORD")
    assert ["password"] in error_locs(weak)
    future = assert_problem(await register(env, registration(date_of_birth="2999-01-01")), 422, "VALIDATION_ERROR")
    assert ["date_of_birth"] in error_locs(future)
    assert_problem(await register(env, registration(first_name="")), 422, "VALIDATION_ERROR")
    assert_problem(await register(env, registration(email="not-an-address")), 422, "VALIDATION_ERROR")
    assert await outbox_payloads(env, VERIFICATION_EVENT) == []


async def test_a_token_works_once(open_env):
    env = open_env
    body = registration()
    await register(env, body)
    token = await verification_token(env, body["email"])
    assert (await verify(env, token)).status_code == 204

    again = assert_problem(await verify(env, token), 400, "INVALID_VERIFICATION_TOKEN")

    assert "already used" in again["detail"]
    assert await env.count("patients", "email = :email", email=body["email"]) == 1


async def test_an_unknown_or_expired_token_is_refused_and_a_new_registration_gives_a_working_one(open_env):
    env = open_env
    assert_problem(await verify(env, "made-up-token"), 400, "INVALID_VERIFICATION_TOKEN")
    body = registration()
    await register(env, body)
    expired = await verification_token(env, body["email"])
    env.clock.advance(hours=24)

    refused = assert_problem(await verify(env, expired), 400, "INVALID_VERIFICATION_TOKEN")

    assert "expired" in refused["detail"]
    # Still unconfirmed: signing up again replaces the pending sign-up (new password, new token; the old one dies).
    assert (
        await register(env, registration(email=body["email"], password="a-second-passphrase-99"))
    ).status_code == 202
    fresh = await verification_token(env, body["email"])
    assert fresh != expired
    assert (await verify(env, fresh)).status_code == 204
    assert (await login(env.client, body["email"], "a-second-passphrase-99")).status_code == 200
    assert await env.count("users", "email = :email", email=body["email"]) == 1


async def test_registering_a_confirmed_address_again_changes_nothing(open_env):
    env = open_env
    body = registration()
    await register(env, body)
    assert (await verify(env, await verification_token(env, body["email"]))).status_code == 204

    assert (
        await register(env, registration(email=body["email"], password="attacker-passphrase-11"))
    ).status_code == 202

    assert len([p for p in await outbox_payloads(env, VERIFICATION_EVENT) if p["email"] == body["email"]]) == 1
    assert (await login(env.client, body["email"], PASSWORD)).status_code == 200


async def test_concurrent_verifications_create_one_patient(open_env):
    env = open_env
    body = registration()
    await register(env, body)
    token = await verification_token(env, body["email"])
    await env.warm_pool()

    responses = await asyncio.gather(*(verify(env, token) for _ in range(6)))

    assert sorted(r.status_code for r in responses) == [204] + [400] * 5
    assert await env.count("patients", "email = :email", email=body["email"]) == 1
    assert len(await outbox_payloads(env, "patient.registered")) == 1


async def test_concurrent_registrations_of_one_address_make_one_user(open_env):
    env = open_env
    email = new_email("twin")
    await env.warm_pool()

    responses = await asyncio.gather(*(register(env, registration(email=email)) for _ in range(4)))

    assert [r.status_code for r in responses] == [202] * 4
    assert await env.count("users", "email = :email", email=email) == 1


async def test_registration_is_rate_limited_like_login(make_env):
    async with make_env(self_registration=True, login_rate_limit="3/minute") as env:
        for _ in range(3):
            assert (await register(env, registration())).status_code == 202

        limited = assert_problem(await register(env, registration()), 429, "RATE_LIMITED")

        assert int(limited.get("status")) == 429
