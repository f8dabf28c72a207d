"""Personnel through the API: every kind, a department that exists, one member per user account, edits with
If-Match, filters; and who may read and write facilities, departments and personnel."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.builders.facilities import (
    DEPARTMENTS,
    FACILITIES,
    KINDS,
    PERSONNEL,
    department_body,
    facility_body,
    make_department,
    make_personnel,
    make_user_id,
    personnel_body,
)
from tests.builders.patients import make_patient
from tests.harness import assert_problem, every_page, outbox_payloads


async def test_every_kind_registers_and_reads_back(env):
    department = await make_department(env)
    for kind in KINDS:
        body = personnel_body(kind=kind, department_id=department["id"])
        response = await env.client.post(PERSONNEL, json=body, headers=env.admin)
        assert response.status_code == 201, response.text
        member = response.json()
        assert {k: member[k] for k in body} == body
        assert (member["active"], member["user_id"], member["version"]) == (True, None, 1)
        assert response.headers["Location"] == f"{PERSONNEL}/{member['id']}"
        assert (await env.client.get(f"{PERSONNEL}/{member['id']}", headers=env.admin)).json() == member
    registered = await outbox_payloads(env, "personnel.registered")
    assert [event["kind"] for event in registered] == list(KINDS)
    assert all("last_name" not in event and "license_number" not in event for event in registered)


async def test_an_unknown_kind_or_department_is_refused(env):
    response = await env.client.post(PERSONNEL, json=personnel_body(kind="surgeon"), headers=env.admin)
    assert assert_problem(response, 422, "VALIDATION_ERROR")["errors"][0]["loc"][-1] == "kind"
    unknown = personnel_body(department_id=str(uuid.uuid4()))
    assert_problem(await env.client.post(PERSONNEL, json=unknown, headers=env.admin), 404, "DEPARTMENT_NOT_FOUND")
    assert await env.count("personnel") == 0


async def test_one_member_per_user_account(env):
    user_id = await make_user_id(env)
    first = await make_personnel(env, user_id=user_id)
    again = await env.client.post(PERSONNEL, json=personnel_body(user_id=user_id), headers=env.admin)
    assert_problem(again, 409, "PERSONNEL_USER_TAKEN")
    other = await make_personnel(env)
    response = await env.client.patch(f"{PERSONNEL}/{other['id']}", json={"user_id": user_id}, headers=env.admin)
    assert_problem(response, 409, "PERSONNEL_USER_TAKEN")
    # The member keeps theirs, and may send it again.
    same = await env.client.patch(f"{PERSONNEL}/{first['id']}", json={"user_id": user_id}, headers=env.admin)
    assert same.status_code == 200, same.text


async def test_an_unknown_user_account_is_refused_and_nothing_changes(env):
    unknown = str(uuid.uuid4())
    refused = await env.client.post(PERSONNEL, json=personnel_body(user_id=unknown), headers=env.admin)
    assert_problem(refused, 404, "USER_NOT_FOUND")
    assert await env.count("personnel") == 0
    member = await make_personnel(env)
    response = await env.client.patch(f"{PERSONNEL}/{member['id']}", json={"user_id": unknown}, headers=env.admin)
    assert_problem(response, 404, "USER_NOT_FOUND")
    kept = (await env.client.get(f"{PERSONNEL}/{member['id']}", headers=env.admin)).json()
    assert (kept["user_id"], kept["version"]) == (None, 1)


async def test_concurrent_links_of_one_user_make_one(env):
    await env.warm_pool()
    body = personnel_body(user_id=await make_user_id(env))
    responses = await asyncio.gather(*(env.client.post(PERSONNEL, json=body, headers=env.admin) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"PERSONNEL_USER_TAKEN"}


async def test_patch_changes_kind_department_and_active_and_a_stale_if_match_changes_nothing(env):
    member = await make_personnel(env, user_id=await make_user_id(env))
    department = await make_department(env)
    url = f"{PERSONNEL}/{member['id']}"
    patch = {"kind": "pharmacist", "department_id": department["id"], "active": False, "license_number": None}
    response = await env.client.patch(url, json=patch, headers={**env.admin, "If-Match": '"1"'})

    assert response.status_code == 200, response.text
    updated = response.json()
    assert {k: updated[k] for k in patch} == patch
    assert (updated["version"], response.headers["ETag"]) == (2, '"2"')
    [event] = await outbox_payloads(env, "personnel.updated")
    assert event["changed_fields"] == ["active", "department_id", "kind", "license_number"]
    assert (event["active"], event["department_id"]) == (False, department["id"])

    stale = await env.client.patch(url, json={"first_name": "Lost"}, headers={**env.admin, "If-Match": '"1"'})
    assert_problem(stale, 412, "VERSION_CONFLICT")
    for refused in ({"kind": None}, {"active": None}, {"kind": "surgeon"}):
        assert_problem(await env.client.patch(url, json=refused, headers=env.admin), 422, "VALIDATION_ERROR")
    unknown = {"department_id": str(uuid.uuid4())}
    assert_problem(await env.client.patch(url, json=unknown, headers=env.admin), 404, "DEPARTMENT_NOT_FOUND")
    assert (await env.client.get(url, headers=env.admin)).json() == updated
    missing = await env.client.patch(f"{PERSONNEL}/{uuid.uuid4()}", json={"active": True}, headers=env.admin)
    assert_problem(missing, 404, "PERSONNEL_NOT_FOUND")


async def test_personnel_are_listed_by_department_kind_and_activity(env):
    ward, pharmacy = await make_department(env), await make_department(env)
    nurse = await make_personnel(env, kind="nurse", department_id=ward["id"])
    await make_personnel(env, kind="nurse", department_id=ward["id"], active=False)
    pharmacist = await make_personnel(env, kind="pharmacist", department_id=pharmacy["id"])

    ids = lambda items: {member["id"] for member in items}  # noqa: E731
    assert ids(await every_page(env, PERSONNEL, department_id=ward["id"], active="true")) == {nurse["id"]}
    assert ids(await every_page(env, PERSONNEL, kind="pharmacist")) == {pharmacist["id"]}
    assert len(await every_page(env, PERSONNEL, department_id=ward["id"])) == 2
    assert len(await every_page(env, PERSONNEL)) == 3
    assert (await env.client.get(PERSONNEL, params={"kind": "surgeon"}, headers=env.admin)).status_code == 422


# --- who may do what ----------------------------------------------------------------------------------------------

STAFF = ("receptionist", "doctor", "nurse", "pharmacist", "lab_technician", "billing_clerk", "claims_officer")


@pytest.mark.parametrize("role", STAFF)
async def test_staff_read_but_only_the_admin_writes(env, role):
    department = await make_department(env)
    member = await make_personnel(env)
    headers = await env.user([role])
    for path in (
        FACILITIES,
        f"{FACILITIES}/{department['facility_id']}",
        f"{DEPARTMENTS}?facility_id={department['facility_id']}",
        f"{DEPARTMENTS}/{department['id']}",
        PERSONNEL,
        f"{PERSONNEL}/{member['id']}",
    ):
        assert (await env.client.get(path, headers=headers)).status_code == 200, path
    for method, path, body in (
        ("POST", FACILITIES, facility_body()),
        ("PATCH", f"{FACILITIES}/{department['facility_id']}", {"name": "X"}),
        ("POST", DEPARTMENTS, department_body(department["facility_id"])),
        ("POST", PERSONNEL, personnel_body()),
        ("PATCH", f"{PERSONNEL}/{member['id']}", {"active": False}),
    ):
        response = await env.client.request(method, path, json=body, headers=headers)
        assert_problem(response, 403, "FORBIDDEN")
    assert await env.count("personnel") == 1


async def test_patients_see_neither_facilities_nor_personnel(env):
    headers = await env.user(["patient"], patient_id=(await make_patient(env))["id"])
    for path in (FACILITIES, DEPARTMENTS, PERSONNEL):
        assert_problem(await env.client.get(path, headers=headers), 403, "FORBIDDEN")
    assert_problem(await env.client.get(PERSONNEL), 401, "UNAUTHENTICATED")
