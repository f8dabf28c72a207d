"""Facilities and departments through the API: create, list, read, edit with If-Match; codes unique; timezones
from the IANA database; departments belong to a facility that exists."""

from __future__ import annotations

import asyncio
import uuid

from tests.builders.facilities import (
    DEPARTMENTS,
    FACILITIES,
    address,
    department_body,
    facility_body,
    make_department,
    make_facility,
)
from tests.harness import assert_problem, every_page, outbox_payloads


async def test_create_returns_the_facility_with_its_version_and_location(env):
    body = facility_body(code="north-wing")
    response = await env.client.post(FACILITIES, json=body, headers=env.admin)

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["code"] == "NORTH-WING"  # codes are upper-cased
    assert (created["name"], created["address"], created["timezone"]) == (
        body["name"],
        {**body["address"], "line2": None},
        body["timezone"],
    )
    assert (created["version"], response.headers["ETag"]) == (1, '"1"')
    assert response.headers["Location"] == f"{FACILITIES}/{created['id']}"
    assert (await env.client.get(f"{FACILITIES}/{created['id']}", headers=env.admin)).json() == created
    [event] = await outbox_payloads(env, "facility.created")
    assert (event["facility_id"], event["code"], event["timezone"]) == (created["id"], "NORTH-WING", "Asia/Kolkata")


async def test_a_timezone_not_in_the_iana_database_is_refused(env):
    before = await env.count("facilities")
    for timezone in ("Mars/Olympus_Mons", "asia/kolkata", "+05:30", ""):
        body = assert_problem(
            await env.client.post(FACILITIES, json=facility_body(timezone=timezone), headers=env.admin),
            422,
            "VALIDATION_ERROR",
        )
        assert body["errors"][0]["loc"][-1] == "timezone", body
    assert await env.count("facilities") == before


async def test_a_duplicate_code_is_a_conflict_whatever_its_case(env):
    await make_facility(env, code="EAST")
    response = await env.client.post(FACILITIES, json=facility_body(code="east"), headers=env.admin)
    assert_problem(response, 409, "FACILITY_CODE_TAKEN")
    assert len(await every_page(env, FACILITIES, code="EAST")) == 1


async def test_concurrent_creations_of_one_code_make_one_facility(env):
    await env.warm_pool()
    responses = await asyncio.gather(
        *(env.client.post(FACILITIES, json=facility_body(code="RACE"), headers=env.admin) for _ in range(8))
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"FACILITY_CODE_TAKEN"}
    assert await env.count("facilities", "code = 'RACE'") == 1


async def test_patch_changes_what_is_sent_and_a_stale_if_match_changes_nothing(env):
    facility = await make_facility(env)
    url = f"{FACILITIES}/{facility['id']}"
    patch = {"name": "Renamed", "timezone": "Europe/London", "address": address(city="Madurai")}
    response = await env.client.patch(url, json=patch, headers={**env.admin, "If-Match": '"1"'})

    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["name"], updated["timezone"], updated["address"]["city"]) == ("Renamed", "Europe/London", "Madurai")
    assert (updated["code"], updated["version"], response.headers["ETag"]) == (facility["code"], 2, '"2"')
    [event] = await outbox_payloads(env, "facility.updated")
    assert event["changed_fields"] == ["address", "name", "timezone"]

    stale = await env.client.patch(url, json={"name": "Lost"}, headers={**env.admin, "If-Match": '"1"'})
    assert_problem(stale, 412, "VERSION_CONFLICT")
    assert (await env.client.get(url, headers=env.admin)).json()["name"] == "Renamed"


async def test_patch_refuses_a_taken_code_a_bad_timezone_and_clearing_a_field(env):
    taken = await make_facility(env)
    facility = await make_facility(env)
    url = f"{FACILITIES}/{facility['id']}"
    assert_problem(
        await env.client.patch(url, json={"code": taken["code"]}, headers=env.admin), 409, "FACILITY_CODE_TAKEN"
    )
    assert_problem(
        await env.client.patch(url, json={"timezone": "Nowhere/City"}, headers=env.admin), 422, "VALIDATION_ERROR"
    )
    assert_problem(await env.client.patch(url, json={"name": None}, headers=env.admin), 422, "VALIDATION_ERROR")
    assert (await env.client.get(url, headers=env.admin)).json() == facility
    # Its own code again is no conflict, and no change.
    same = await env.client.patch(url, json={"code": facility["code"]}, headers=env.admin)
    assert (same.status_code, same.json()["version"]) == (200, 1)


async def test_unknown_facility_is_404(env):
    missing = uuid.uuid4()
    assert_problem(await env.client.get(f"{FACILITIES}/{missing}", headers=env.admin), 404, "FACILITY_NOT_FOUND")
    response = await env.client.patch(f"{FACILITIES}/{missing}", json={"name": "X"}, headers=env.admin)
    assert_problem(response, 404, "FACILITY_NOT_FOUND")


async def test_departments_belong_to_a_facility_and_are_listed_by_it(env):
    north, south = await make_facility(env), await make_facility(env)
    cardio = await make_department(env, north["id"], code="cardio", name="Cardiology")
    await make_department(env, north["id"], code="ORTHO")
    await make_department(env, south["id"], code="CARDIO")  # a code is unique within its facility only

    assert (cardio["code"], cardio["facility_id"]) == ("CARDIO", north["id"])
    got = await env.client.get(f"{DEPARTMENTS}/{cardio['id']}", headers=env.admin)
    assert got.json() == cardio
    of_north = await every_page(env, DEPARTMENTS, facility_id=north["id"])
    assert [d["code"] for d in of_north] == ["CARDIO", "ORTHO"]
    assert len(await every_page(env, DEPARTMENTS, facility_id=south["id"])) == 1
    [event, *_] = await outbox_payloads(env, "department.created")
    assert (event["department_id"], event["facility_id"], event["code"]) == (cardio["id"], north["id"], "CARDIO")


async def test_a_department_of_an_unknown_facility_or_with_a_taken_code_is_refused(env):
    facility = await make_facility(env)
    await make_department(env, facility["id"], code="ICU")
    before = await env.count("departments")

    unknown = department_body(str(uuid.uuid4()))
    assert_problem(await env.client.post(DEPARTMENTS, json=unknown, headers=env.admin), 404, "FACILITY_NOT_FOUND")
    taken = department_body(facility["id"], code="icu")
    assert_problem(await env.client.post(DEPARTMENTS, json=taken, headers=env.admin), 409, "DEPARTMENT_CODE_TAKEN")
    assert await env.count("departments") == before
    missing = await env.client.get(f"{DEPARTMENTS}/{uuid.uuid4()}", headers=env.admin)
    assert_problem(missing, 404, "DEPARTMENT_NOT_FOUND")


async def test_concurrent_departments_with_one_code_make_one(env):
    facility = await make_facility(env)
    await env.warm_pool()
    body = department_body(facility["id"], code="ER")
    responses = await asyncio.gather(*(env.client.post(DEPARTMENTS, json=body, headers=env.admin) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"DEPARTMENT_CODE_TAKEN"}


async def test_facilities_are_listed_by_code_in_pages(env):
    made = [await make_facility(env, code=code) for code in ("ZC", "ZA", "ZB")]
    first = (await env.client.get(FACILITIES, params={"limit": 2}, headers=env.admin)).json()
    assert (len(first["items"]), bool(first["next_cursor"])) == (2, True)
    listed = await every_page(env, FACILITIES, limit=2)
    assert [f["code"] for f in listed] == sorted(f["code"] for f in listed)
    assert [f["code"] for f in listed if f["code"] in ("ZA", "ZB", "ZC")] == ["ZA", "ZB", "ZC"]
    assert len(listed) == len(made) + 1  # and the facility of the first start
