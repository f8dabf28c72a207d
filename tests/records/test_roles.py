"""Who reads and writes which type of entry (roles × types × read/write), and a patient's own record only."""

from __future__ import annotations

import pytest

from tests.builders.records import RECORDS, TYPES, entry, make_encounter, make_record, post_record
from tests.harness import assert_problem

ALL = set(TYPES)
CODED = {"diagnosis", "procedure"}
# role: (types it reads, types it writes)
RULES: dict[str, tuple[set[str], set[str]]] = {
    "admin": (ALL, ALL),
    "doctor": (ALL, ALL),
    "nurse": (ALL, {"vital_signs", "allergy", "note"}),
    "receptionist": (set(), set()),
    "pharmacist": ({"allergy"}, set()),
    "lab_technician": (set(), set()),
    "billing_clerk": (CODED, set()),
    "claims_officer": (CODED, set()),
    "patient": (ALL, set()),  # their own entries
}


async def _headers(env, role, patient_id):
    if role == "admin":
        return env.admin
    return await env.user([role], patient_id=patient_id if role == "patient" else None)


@pytest.mark.parametrize("role", list(RULES))
async def test_each_role_reads_and_writes_the_types_it_may(env, role):
    visit = await make_encounter(env)
    patient_id = visit["patient"]["id"]
    entries = {kind: await make_record(env, patient_id, entry(kind)) for kind in TYPES}
    headers = await _headers(env, role, patient_id)
    reads, writes = RULES[role]
    for kind, record in entries.items():
        read = await env.client.get(f"{RECORDS}/{record['id']}", headers=headers)
        listed = await env.client.get(RECORDS, params={"patient_id": patient_id, "type": kind}, headers=headers)
        history = await env.client.get(f"{RECORDS}/{record['id']}/history", headers=headers)
        if kind in reads:
            assert read.status_code == 200, (role, kind, read.text)
            assert [item["id"] for item in listed.json()["items"]] == [record["id"]], (role, kind)
            assert history.status_code == 200, (role, kind)
        else:
            assert_problem(read, 403, "FORBIDDEN")
            assert_problem(listed, 403, "FORBIDDEN")
            assert_problem(history, 403, "FORBIDDEN")
        created = await post_record(env, patient_id, entry(kind), headers=headers)
        amended = await env.client.put(f"{RECORDS}/{record['id']}", json=entry(kind), headers=headers)
        if kind in writes:
            assert created.status_code == 201, (role, kind, created.text)
            assert amended.status_code == 200, (role, kind, amended.text)
        else:
            assert_problem(created, 403, "FORBIDDEN")
            assert_problem(amended, 403, "FORBIDDEN")
    unfiltered = await env.client.get(RECORDS, params={"patient_id": patient_id}, headers=headers)
    if reads:
        assert {item["type"] for item in unfiltered.json()["items"]} == reads, role
    else:
        assert_problem(unfiltered, 403, "FORBIDDEN")


async def test_a_nurse_retracts_a_note_but_not_a_diagnosis(env):
    visit = await make_encounter(env)
    nurse = await env.user(["nurse"])
    written = await make_record(env, visit["patient"]["id"], entry("note"), headers=nurse)
    diagnosis = await make_record(env, visit["patient"]["id"], entry("diagnosis"))
    ok = await env.client.post(f"{RECORDS}/{written['id']}/retract", json={"reason": "duplicate"}, headers=nurse)
    assert ok.status_code == 200
    refused = await env.client.post(f"{RECORDS}/{diagnosis['id']}/retract", json={"reason": "x"}, headers=nurse)
    assert_problem(refused, 403, "FORBIDDEN")


async def test_a_patient_sees_only_their_own_entries_and_never_a_retracted_one(env):
    mine, theirs = await make_encounter(env), await make_encounter(env)
    me = await env.user(["patient"], patient_id=mine["patient"]["id"])
    own = await make_record(env, mine["patient"]["id"], entry("note"))
    wrong_chart = await make_record(env, mine["patient"]["id"], entry("allergy"))
    other = await make_record(env, theirs["patient"]["id"], entry("note"))
    await env.client.post(f"{RECORDS}/{wrong_chart['id']}/retract", json={"reason": "wrong chart"}, headers=env.admin)

    assert (await env.client.get(f"{RECORDS}/{own['id']}", headers=me)).status_code == 200
    for hidden in (other, wrong_chart):
        assert_problem(await env.client.get(f"{RECORDS}/{hidden['id']}", headers=me), 404, "MEDICAL_RECORD_NOT_FOUND")
        history = await env.client.get(f"{RECORDS}/{hidden['id']}/history", headers=me)
        assert_problem(history, 404, "MEDICAL_RECORD_NOT_FOUND")
    everything = (await env.client.get(RECORDS, headers=me)).json()["items"]
    assert [item["id"] for item in everything] == [own["id"]]
    asked_for_theirs = await env.client.get(RECORDS, params={"patient_id": theirs["patient"]["id"]}, headers=me)
    assert asked_for_theirs.json()["items"] == []
    # Staff still read the retracted entry.
    staff = await env.client.get(f"{RECORDS}/{wrong_chart['id']}", headers=env.admin)
    assert staff.json()["status"] == "entered_in_error"


async def test_a_patient_never_writes(env):
    visit = await make_encounter(env)
    me = await env.user(["patient"], patient_id=visit["patient"]["id"])
    own = await make_record(env, visit["patient"]["id"], entry("note"))
    assert_problem(await post_record(env, visit["patient"]["id"], entry("note"), headers=me), 403, "FORBIDDEN")
    retract = await env.client.post(f"{RECORDS}/{own['id']}/retract", json={"reason": "mine"}, headers=me)
    assert_problem(retract, 403, "FORBIDDEN")
