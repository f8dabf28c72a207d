"""Finding patients: q matches first or last names, the date-of-birth filter, cursor pagination."""

from __future__ import annotations

import uuid

import pytest

from tests.builders.patients import make_patient
from tests.identity.helpers import API, all_pages, assert_problem


async def names_found(env, **params) -> set[str]:
    response = await env.client.get(f"{API}/patients", params=params, headers=env.admin)
    assert response.status_code == 200, response.text
    return {f"{p['first_name']} {p['last_name']}" for p in response.json()["items"]}


@pytest.fixture
async def people(env):
    for first, last, born in [
        ("Asha", "Rao", "1985-04-12"),
        ("Vikram", "Sethi", "1990-06-01"),
        ("Meera", "Ashworth", "1985-04-12"),
        ("Rahul", "Dravid", "1973-01-11"),
    ]:
        await make_patient(env, first_name=first, last_name=last, date_of_birth=born)
    return env


async def test_list_without_filters_returns_everyone(people):
    assert await names_found(people) == {"Asha Rao", "Vikram Sethi", "Meera Ashworth", "Rahul Dravid"}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Asha", {"Asha Rao"}),
        ("asha", {"Asha Rao"}),
        ("SETHI", {"Vikram Sethi"}),
        ("ash", {"Asha Rao", "Meera Ashworth"}),
        ("vi", {"Vikram Sethi", "Rahul Dravid"}),
        ("asha rao", {"Asha Rao"}),
        ("rao asha", {"Asha Rao"}),
        ("meera sethi", set()),
        ("nobody", set()),
    ],
)
async def test_q_matches_first_or_last_names_case_insensitively(people, q, expected):
    assert await names_found(people, q=q) == expected


@pytest.mark.parametrize("q", ["%", "_", "\\", "a%", "'; DROP TABLE patients; --"])
async def test_q_treats_wildcards_and_quotes_literally(people, q):
    assert await names_found(people, q=q) == set()
    assert await people.count("patients") == 4


async def test_q_matches_accented_names_case_insensitively(env):
    await make_patient(env, first_name="Émile", last_name="Zoë")

    assert await names_found(env, q="émile") == {"Émile Zoë"}
    assert await names_found(env, q="ZOË") == {"Émile Zoë"}


async def test_q_does_not_search_other_fields(env):
    await make_patient(env, first_name="Kiran", last_name="Shah", email="findme@example.org", phone="+919800000001")

    assert await names_found(env, q="findme") == set()
    assert await names_found(env, q="9800000001") == set()


async def test_date_of_birth_filter(people):
    assert await names_found(people, date_of_birth="1985-04-12") == {"Asha Rao", "Meera Ashworth"}
    assert await names_found(people, date_of_birth="1985-04-12", q="meera") == {"Meera Ashworth"}
    assert await names_found(people, date_of_birth="2001-01-01") == set()


async def test_a_malformed_date_of_birth_filter_is_422(env):
    response = await env.client.get(f"{API}/patients", params={"date_of_birth": "April"}, headers=env.admin)

    assert_problem(response, 422, "VALIDATION_ERROR")


async def test_pagination_walks_every_patient_once(env):
    created = {(await make_patient(env))["id"] for _ in range(7)}

    items = await all_pages(env.client, f"{API}/patients", env.admin, limit=2)

    ids = [p["id"] for p in items]
    assert len(ids) == len(set(ids)) == 7
    assert set(ids) == created


async def test_pagination_walks_across_different_creation_times(env):
    created = []
    for _ in range(5):
        created.append((await make_patient(env))["id"])
        env.clock.advance(minutes=1)

    items = await all_pages(env.client, f"{API}/patients", env.admin, limit=2)

    assert [p["id"] for p in items] == created


async def test_pagination_respects_the_filters(people):
    items = await all_pages(people.client, f"{API}/patients", people.admin, limit=1, q="ash")

    assert sorted(p["first_name"] for p in items) == ["Asha", "Meera"]


async def test_the_first_page_says_when_there_is_no_more(env):
    await make_patient(env)

    page = (await env.client.get(f"{API}/patients", params={"limit": 5}, headers=env.admin)).json()

    assert len(page["items"]) == 1
    assert page["next_cursor"] is None


async def test_an_exactly_full_last_page_has_no_cursor(env):
    for _ in range(2):
        await make_patient(env)

    page = (await env.client.get(f"{API}/patients", params={"limit": 2}, headers=env.admin)).json()

    assert len(page["items"]) == 2
    assert page["next_cursor"] is None


async def test_a_deleted_patient_is_not_listed(env):
    kept, gone = await make_patient(env), await make_patient(env)
    assert (await env.client.delete(f"{API}/patients/{gone['id']}", headers=env.admin)).status_code == 204

    items = (await env.client.get(f"{API}/patients", headers=env.admin)).json()["items"]

    assert [p["id"] for p in items] == [kept["id"]]
    assert await names_found(env, q=gone["last_name"]) == set()


async def test_unknown_patient_is_404(env):
    response = await env.client.get(f"{API}/patients/{uuid.uuid4()}", headers=env.admin)

    assert_problem(response, 404, "PATIENT_NOT_FOUND")


async def test_a_malformed_patient_id_is_422(env):
    response = await env.client.get(f"{API}/patients/not-a-uuid", headers=env.admin)

    assert_problem(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("role", ["receptionist", "doctor", "nurse", "pharmacist", "billing_clerk", "claims_officer"])
async def test_staff_may_read_patients(env, role):
    patient = await make_patient(env)
    headers = await env.user(roles=[role])

    assert (await env.client.get(f"{API}/patients/{patient['id']}", headers=headers)).status_code == 200
    assert (await env.client.get(f"{API}/patients", headers=headers)).status_code == 200
