"""Practitioners belong to a department of facilities (optional): set on registration or by PATCH, checked against
facilities, and listed by department or by facility (any of its departments)."""

from __future__ import annotations

import uuid

from tests.builders.facilities import make_department, make_facility
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner, practitioner_body
from tests.harness import assert_problem, every_page, outbox_payloads

URL = "/api/v1/practitioners"


async def test_a_practitioner_joins_a_department_and_changes_it(env):
    cardiology, surgery = await make_department(env), await make_department(env)
    practitioner = await make_practitioner(env, department_id=cardiology["id"])
    assert practitioner["department_id"] == cardiology["id"]

    url = f"{URL}/{practitioner['id']}"
    moved = await env.client.patch(url, json={"department_id": surgery["id"]}, headers={**env.admin, "If-Match": '"1"'})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["department_id"], moved.json()["version"]) == (surgery["id"], 2)
    [event] = await outbox_payloads(env, "practitioner.updated")
    assert event["changed_fields"] == ["department_id"]

    cleared = await env.client.patch(url, json={"department_id": None}, headers=env.admin)
    assert cleared.json()["department_id"] is None
    assert (await make_practitioner(env))["department_id"] is None  # optional


async def test_an_unknown_department_is_404_and_changes_nothing(env):
    unknown = str(uuid.uuid4())
    response = await env.client.post(URL, json=practitioner_body(department_id=unknown), headers=env.admin)
    assert_problem(response, 404, "DEPARTMENT_NOT_FOUND")
    assert await env.count("practitioners") == 0

    practitioner = await make_practitioner(env)
    url = f"{URL}/{practitioner['id']}"
    response = await env.client.patch(url, json={"department_id": unknown}, headers=env.admin)
    assert_problem(response, 404, "DEPARTMENT_NOT_FOUND")
    assert (await env.client.get(url, headers=env.admin)).json() == practitioner


async def test_practitioners_are_listed_by_department_and_by_facility(env):
    north, south = await make_facility(env), await make_facility(env)
    north_cardio = await make_department(env, north["id"])
    north_ortho = await make_department(env, north["id"])
    south_cardio = await make_department(env, south["id"])
    a = await make_practitioner(env, department_id=north_cardio["id"])
    b = await make_practitioner(env, department_id=north_ortho["id"], specialty="orthopedics")
    c = await make_practitioner(env, department_id=south_cardio["id"])
    await make_practitioner(env)  # in no department

    def ids(items):
        return {p["id"] for p in items}

    assert ids(await every_page(env, URL, department_id=north_cardio["id"])) == {a["id"]}
    assert ids(await every_page(env, URL, facility_id=north["id"])) == {a["id"], b["id"]}
    assert ids(await every_page(env, URL, facility_id=south["id"])) == {c["id"]}
    assert ids(await every_page(env, URL, facility_id=north["id"], specialty="orthopedics")) == {b["id"]}
    assert ids(await every_page(env, URL, facility_id=north["id"], department_id=south_cardio["id"])) == set()
    assert await every_page(env, URL, facility_id=str(uuid.uuid4())) == []  # an unknown facility has nobody
    assert len(await every_page(env, URL)) == 4


async def test_a_patient_may_filter_practitioners_by_facility_too(env):
    department = await make_department(env)
    practitioner = await make_practitioner(env, department_id=department["id"])
    headers = await env.user(["patient"], patient_id=(await make_patient(env))["id"])
    listed = await every_page(env, URL, headers=headers, facility_id=department["facility_id"])
    assert [p["id"] for p in listed] == [practitioner["id"]]
