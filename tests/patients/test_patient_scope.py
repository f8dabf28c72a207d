"""A patient-role user sees only their own record; everyone else's is as if it did not exist."""

from __future__ import annotations

import pytest

from tests.builders.patients import make_patient, patient_body
from tests.identity.helpers import API, assert_problem


@pytest.fixture
async def me_and_other(env):
    mine, other = await make_patient(env), await make_patient(env)
    headers = await env.user(roles=["patient"], patient_id=mine["id"])
    return env, headers, mine, other


async def test_a_patient_reads_their_own_record(me_and_other):
    env, headers, mine, _ = me_and_other

    response = await env.client.get(f"{API}/patients/{mine['id']}", headers=headers)

    assert response.status_code == 200
    assert response.json() == mine


async def test_another_patients_record_is_not_found(me_and_other):
    env, headers, _, other = me_and_other

    response = await env.client.get(f"{API}/patients/{other['id']}", headers=headers)

    assert_problem(response, 404, "PATIENT_NOT_FOUND")
    assert other["last_name"] not in response.text


async def test_the_list_shows_only_their_own_record(me_and_other):
    env, headers, mine, other = me_and_other

    everyone = await env.client.get(f"{API}/patients", headers=headers)
    by_name = await env.client.get(f"{API}/patients", params={"q": other["last_name"]}, headers=headers)

    assert [p["id"] for p in everyone.json()["items"]] == [mine["id"]]
    assert by_name.json()["items"] == []


async def test_a_patient_cannot_register_change_or_delete(me_and_other):
    env, headers, mine, other = me_and_other
    before = await env.count("patients")

    assert_problem(await env.client.post(f"{API}/patients", json=patient_body(), headers=headers), 403, "FORBIDDEN")
    for target in (mine, other):
        path = f"{API}/patients/{target['id']}"
        assert_problem(await env.client.patch(path, json={"first_name": "X"}, headers=headers), 403, "FORBIDDEN")
        assert_problem(await env.client.delete(path, headers=headers), 403, "FORBIDDEN")

    assert await env.count("patients") == before
    assert await env.count("patients", "deleted_at IS NULL") == before


async def test_a_patient_who_is_also_staff_is_not_confined(env):
    mine, other = await make_patient(env), await make_patient(env)
    headers = await env.user(roles=["patient", "nurse"], patient_id=mine["id"])

    assert (await env.client.get(f"{API}/patients/{other['id']}", headers=headers)).status_code == 200
