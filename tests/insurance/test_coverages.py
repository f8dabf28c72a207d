"""Coverages: the patient must exist, dates in order, member ids unique per payer, patients see only their own."""

from __future__ import annotations

import uuid

import pytest

from tests.builders.insurance import (
    COVERAGES,
    PAYERS,
    PREAUTHS,
    SCHEMES,
    VERIFY,
    add_benefit,
    make_coverage,
    make_payer,
    make_scheme,
    preauthorize,
)
from tests.builders.patients import make_patient
from tests.harness import assert_problem, every_page, outbox_payloads


async def test_a_coverage_is_created_read_and_announced(env):
    patient = await make_patient(env)
    scheme = await make_scheme(env)
    coverage = await make_coverage(env, patient=patient, scheme=scheme, member_id="MEM-001", valid_to="2030-12-31")

    assert (coverage["status"], coverage["payer_id"], coverage["version"]) == ("active", scheme["payer_id"], 1)
    response = await env.client.get(f"{COVERAGES}/{coverage['id']}", headers=env.admin)
    assert response.json() == coverage
    assert response.headers["ETag"] == '"1"'
    [event] = await outbox_payloads(env, "coverage.created")
    assert event == {
        "coverage_id": coverage["id"],
        "patient_id": patient["id"],
        "scheme_id": scheme["id"],
        "payer_id": scheme["payer_id"],
        "valid_from": "2030-01-01",
        "valid_to": "2030-12-31",
        "created_at": "2030-01-07T06:00:00Z",
        "agent_id": None,
    }


async def test_unknown_patient_or_scheme_is_404_and_writes_nothing(env):
    patient = await make_patient(env)
    scheme = await make_scheme(env)
    body = {"patient_id": str(uuid.uuid4()), "scheme_id": scheme["id"], "member_id": "M1", "valid_from": "2030-01-01"}
    assert_problem(await env.client.post(COVERAGES, json=body, headers=env.admin), 404, "PATIENT_NOT_FOUND")
    body = {**body, "patient_id": patient["id"], "scheme_id": str(uuid.uuid4())}
    assert_problem(await env.client.post(COVERAGES, json=body, headers=env.admin), 404, "SCHEME_NOT_FOUND")
    assert_problem(await env.client.get(f"{COVERAGES}/{uuid.uuid4()}", headers=env.admin), 404, "COVERAGE_NOT_FOUND")
    assert await env.count("insurance_coverages") == 0
    assert await outbox_payloads(env, "coverage.created") == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"valid_from": "2030-02-01", "valid_to": "2030-01-31"},
        {"member_id": ""},
        {"member_id": "M" * 21},
        {"status": "cancelled"},
        {"valid_from": "01/01/2030"},
    ],
)
async def test_malformed_coverages_are_refused_with_422(env, overrides):
    patient = await make_patient(env)
    scheme = await make_scheme(env)
    body = {"patient_id": patient["id"], "scheme_id": scheme["id"], "member_id": "M1", "valid_from": "2030-01-01"}
    response = await env.client.post(COVERAGES, json={**body, **overrides}, headers=env.admin)
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert await env.count("insurance_coverages") == 0


async def test_member_ids_are_unique_per_payer(env):
    payer = await make_payer(env)
    scheme_a, scheme_b = await make_scheme(env, payer), await make_scheme(env, payer)
    await make_coverage(env, scheme=scheme_a, member_id="MEM-7")

    body = {
        "patient_id": (await make_patient(env))["id"],
        "scheme_id": scheme_b["id"],
        "member_id": "MEM-7",
        "valid_from": "2030-01-01",
    }
    assert_problem(await env.client.post(COVERAGES, json=body, headers=env.admin), 409, "MEMBER_ID_EXISTS")
    await make_coverage(env, member_id="MEM-7")  # another payer's member 7
    assert await env.count("insurance_coverages") == 2


async def test_coverages_filter_by_field_and_deactivate_once(env):
    patient = await make_patient(env)
    scheme = await make_scheme(env)
    first = await make_coverage(env, patient=patient, scheme=scheme, member_id="A-1")
    second = await make_coverage(env, patient=patient, member_id="A-2")
    await make_coverage(env, scheme=scheme)

    async def ids(**params):
        response = await env.client.get(COVERAGES, params=params, headers=env.admin)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert sorted(await ids(patient_id=patient["id"])) == sorted([first["id"], second["id"]])
    assert await ids(patient_id=patient["id"], scheme_id=scheme["id"]) == [first["id"]]
    assert await ids(member_id="A-2") == [second["id"]]
    url = f"{COVERAGES}/{first['id']}/deactivate"
    assert_problem(await env.client.post(url, headers={**env.admin, "If-Match": '"7"'}), 412, "VERSION_CONFLICT")
    done = await env.client.post(url, headers={**env.admin, "If-Match": '"1"'})
    assert (done.status_code, done.json()["status"], done.json()["version"]) == (200, "inactive", 2)
    assert_problem(await env.client.post(url, headers=env.admin), 409, "INVALID_STATUS_TRANSITION")
    assert await ids(patient_id=patient["id"], status="inactive") == [first["id"]]


async def test_check_lists_the_members_coverages_that_apply_today(env):
    suspended_scheme = await make_scheme(env)
    current = await make_coverage(env, member_id="CHK-1")
    await make_coverage(env, member_id="CHK-1", valid_from="2029-01-01", valid_to="2029-12-31")
    await make_coverage(env, member_id="CHK-1", valid_from="2030-01-08")
    await make_coverage(env, member_id="CHK-1", status="inactive")
    await make_coverage(env, member_id="CHK-1", scheme=suspended_scheme)
    await env.client.post(f"{SCHEMES}/{suspended_scheme['id']}/suspend", headers=env.admin)

    response = await env.client.get("/api/v1/coverage/check/CHK-1", headers=env.admin)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["member_id"], body["on"]) == ("CHK-1", "2030-01-07")
    assert [c["id"] for c in body["coverages"]] == [current["id"]]


# --- roles -------------------------------------------------------------------------------------------------


async def test_claims_officer_writes_billing_clerk_reads_and_verifies(env):
    officer = await env.user(["claims_officer"])
    clerk = await env.user(["billing_clerk"])
    payer = await env.client.post(PAYERS, json={"code": "ROLE", "name": "Role"}, headers=officer)
    assert payer.status_code == 201, payer.text

    assert_problem(await env.client.post(PAYERS, json={"code": "NO", "name": "No"}, headers=clerk), 403, "FORBIDDEN")
    assert (await env.client.get(PAYERS, headers=clerk)).status_code == 200
    patient = await make_patient(env)
    verify = {"patient_id": patient["id"], "category": "lab", "amount": "10.00", "service_date": "2030-01-07"}
    assert (await env.client.post(VERIFY, json=verify, headers=clerk)).status_code == 200
    assert (await env.client.post(VERIFY, json=verify, headers=officer)).status_code == 200


async def test_receptionist_only_verifies_and_doctor_may_not_touch_insurance(env):
    receptionist = await env.user(["receptionist"])
    doctor = await env.user(["doctor"])
    patient = await make_patient(env)
    verify = {"patient_id": patient["id"], "category": "lab", "amount": "10.00", "service_date": "2030-01-07"}

    assert (await env.client.post(VERIFY, json=verify, headers=receptionist)).status_code == 200
    assert (await env.client.get("/api/v1/coverage/check/X", headers=receptionist)).status_code == 200
    assert_problem(await env.client.get(COVERAGES, headers=receptionist), 403, "FORBIDDEN")
    for method, path, body in [
        ("GET", PAYERS, None),
        ("GET", COVERAGES, None),
        ("POST", VERIFY, verify),
        ("POST", PAYERS, {"code": "D", "name": "D"}),
    ]:
        assert_problem(await env.client.request(method, path, json=body, headers=doctor), 403, "FORBIDDEN")
    assert_problem(await env.client.get(COVERAGES), 401, "UNAUTHENTICATED")


async def test_a_patient_sees_only_their_own_coverages_and_preauthorizations(env):
    scheme = await make_scheme(env)
    await add_benefit(env, scheme, requires_preauth=True)
    mine_patient, other_patient = await make_patient(env), await make_patient(env)
    mine = await make_coverage(env, patient=mine_patient, scheme=scheme)
    theirs = await make_coverage(env, patient=other_patient, scheme=scheme)
    my_preauth = await preauthorize(env, mine)
    their_preauth = await preauthorize(env, theirs)
    me = await env.user(["patient"], patient_id=mine_patient["id"])

    listed = await env.client.get(COVERAGES, headers=me)
    assert [c["id"] for c in listed.json()["items"]] == [mine["id"]]
    other_filter = await env.client.get(COVERAGES, params={"patient_id": other_patient["id"]}, headers=me)
    assert other_filter.json()["items"] == []
    assert (await env.client.get(f"{COVERAGES}/{mine['id']}", headers=me)).status_code == 200
    assert_problem(await env.client.get(f"{COVERAGES}/{theirs['id']}", headers=me), 404, "COVERAGE_NOT_FOUND")
    preauths = await env.client.get(PREAUTHS, headers=me)
    assert [p["id"] for p in preauths.json()["items"]] == [my_preauth["id"]]
    hidden = await env.client.get(f"{PREAUTHS}/{their_preauth['id']}", headers=me)
    assert_problem(hidden, 404, "PREAUTHORIZATION_NOT_FOUND")
    body = {
        "patient_id": mine_patient["id"],
        "scheme_id": scheme["id"],
        "member_id": "SELF",
        "valid_from": "2030-01-01",
    }
    assert_problem(await env.client.post(COVERAGES, json=body, headers=me), 403, "FORBIDDEN")
    assert_problem(await env.client.post(f"{COVERAGES}/{mine['id']}/deactivate", headers=me), 403, "FORBIDDEN")


async def test_preauthorizations_need_a_coverage_and_dates_in_order(env):
    coverage = await make_coverage(env)
    unknown = {
        "coverage_id": str(uuid.uuid4()),
        "category": "lab",
        "valid_from": "2030-01-01",
        "valid_to": "2030-01-02",
    }
    assert_problem(await env.client.post(PREAUTHS, json=unknown, headers=env.admin), 404, "COVERAGE_NOT_FOUND")
    backwards = {**unknown, "coverage_id": coverage["id"], "valid_from": "2030-01-03"}
    assert_problem(await env.client.post(PREAUTHS, json=backwards, headers=env.admin), 422, "VALIDATION_ERROR")
    preauth = await preauthorize(env, coverage, category="lab", max_amount="500", reference="PA-1")
    assert (preauth["status"], preauth["max_amount"], preauth["reference"]) == ("approved", "500.00", "PA-1")
    assert await env.count("insurance_preauthorizations") == 1


async def test_coverage_lists_page_by_cursor(env):
    patient = await make_patient(env)
    scheme = await make_scheme(env)
    created = [await make_coverage(env, patient=patient, scheme=scheme) for _ in range(5)]

    items = await every_page(env, COVERAGES, patient_id=patient["id"], limit=2)

    assert sorted(c["id"] for c in items) == sorted(c["id"] for c in created)
    assert len(items) == 5
