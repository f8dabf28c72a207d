"""Amending (If-Match) keeps every version readable; retracting marks the entry entered in error; both publish."""

from __future__ import annotations

import asyncio

import pytest

from tests.builders.records import RECORDS, allergy, diagnosis, make_encounter, make_record, note, snapshot
from tests.harness import assert_problem, outbox_payloads


@pytest.fixture
async def record(env):
    visit = await make_encounter(env)
    return await make_record(env, visit["patient"]["id"], diagnosis(), appointment_id=visit["appointment"]["id"])


async def amend(env, record_id, body, version, headers=None):
    return await env.client.put(
        f"{RECORDS}/{record_id}", json=body, headers={**(headers or env.admin), "If-Match": f'"{version}"'}
    )


async def test_an_amendment_is_a_new_version_and_the_old_one_stays_readable(env, record):
    env.clock.advance(minutes=5)
    response = await amend(env, record["id"], diagnosis(code="E11.9", clinical_status="resolved"), 1)
    assert response.status_code == 200, response.text
    amended = response.json()
    assert response.headers["ETag"] == '"2"'
    assert (amended["version"], amended["status"], amended["code"]) == (2, "amended", "E11.9")
    assert amended["clinical_status"] == "resolved"
    assert amended["recorded_at"] > record["recorded_at"]
    assert (amended["id"], amended["patient_id"], amended["appointment_id"]) == (
        record["id"],
        record["patient_id"],
        record["appointment_id"],
    )
    history = await env.client.get(f"{RECORDS}/{record['id']}/history", headers=env.admin)
    assert history.status_code == 200
    assert history.json()["items"] == [record, amended]  # oldest first, each as it was written
    assert await env.count("medical_record_versions") == 2


async def test_a_stale_if_match_is_a_version_conflict_and_changes_nothing(env, record):
    assert (await amend(env, record["id"], diagnosis(code="E11.9"), 1)).status_code == 200
    before = await snapshot(env)
    assert_problem(await amend(env, record["id"], diagnosis(code="J45.909"), 1), 412, "VERSION_CONFLICT")
    assert await snapshot(env) == before
    current = (await env.client.get(f"{RECORDS}/{record['id']}", headers=env.admin)).json()
    assert (current["code"], current["version"]) == ("E11.9", 2)


async def test_an_amendment_keeps_the_type_and_checks_the_content(env, record):
    before = await snapshot(env)
    assert_problem(await amend(env, record["id"], allergy(), 1), 422, "VALIDATION_ERROR")
    assert_problem(await amend(env, record["id"], diagnosis(code="Q99.99"), 1), 422, "UNKNOWN_DIAGNOSIS_CODE")
    assert_problem(
        await amend(env, record["id"], {**diagnosis(), "patient_id": record["patient_id"]}, 1), 422, "VALIDATION_ERROR"
    )
    assert await snapshot(env) == before


async def test_an_amendment_without_if_match_amends_the_current_version(env, record):
    response = await env.client.put(f"{RECORDS}/{record['id']}", json=diagnosis(code="E11.9"), headers=env.admin)
    assert response.status_code == 200
    assert response.json()["version"] == 2


async def test_a_retraction_marks_the_entry_entered_in_error_and_keeps_it(env, record):
    await amend(env, record["id"], diagnosis(code="E11.9"), 1)
    response = await env.client.post(
        f"{RECORDS}/{record['id']}/retract", json={"reason": "Recorded on the wrong chart"}, headers=env.admin
    )
    assert response.status_code == 200, response.text
    retracted = response.json()
    assert (retracted["status"], retracted["version"]) == ("entered_in_error", 3)
    assert retracted["retraction_reason"] == "Recorded on the wrong chart"
    assert retracted["code"] == "E11.9"  # the content as it was
    history = (await env.client.get(f"{RECORDS}/{record['id']}/history", headers=env.admin)).json()["items"]
    assert [(v["version"], v["status"]) for v in history] == [(1, "current"), (2, "amended"), (3, "entered_in_error")]
    assert history[0]["code"] == "I10"


async def test_a_retracted_entry_is_neither_amended_nor_retracted_again(env, record):
    url = f"{RECORDS}/{record['id']}"
    assert (await env.client.post(f"{url}/retract", json={"reason": "duplicate"}, headers=env.admin)).status_code == 200
    before = await snapshot(env)
    again = await env.client.post(f"{url}/retract", json={"reason": "again"}, headers=env.admin)
    assert_problem(again, 409, "MEDICAL_RECORD_RETRACTED")
    assert_problem(await amend(env, record["id"], diagnosis(), 2), 409, "MEDICAL_RECORD_RETRACTED")
    assert await snapshot(env) == before


async def test_a_retraction_needs_a_reason_and_honours_if_match(env, record):
    url = f"{RECORDS}/{record['id']}/retract"
    assert_problem(await env.client.post(url, json={"reason": " "}, headers=env.admin), 422, "VALIDATION_ERROR")
    assert_problem(await env.client.post(url, json={}, headers=env.admin), 422, "VALIDATION_ERROR")
    stale = await env.client.post(url, json={"reason": "x"}, headers={**env.admin, "If-Match": '"7"'})
    assert_problem(stale, 412, "VERSION_CONFLICT")
    assert await env.count("medical_record_versions") == 1


async def test_amendments_and_retractions_publish_their_events(env, record):
    await amend(env, record["id"], diagnosis(code="E11.9"), 1)
    await env.client.post(f"{RECORDS}/{record['id']}/retract", json={"reason": "duplicate"}, headers=env.admin)
    [amended] = await outbox_payloads(env, "medical_record.amended")
    [retracted] = await outbox_payloads(env, "medical_record.retracted")
    assert (amended["record_id"], amended["version"], amended["type"]) == (record["id"], 2, "diagnosis")
    assert (retracted["record_id"], retracted["version"]) == (record["id"], 3)
    assert "reason" not in retracted
    assert "code" not in amended


async def test_history_pages_oldest_first(env):
    visit = await make_encounter(env)
    record = await make_record(env, visit["patient"]["id"], note(text="v1"))
    for version in range(1, 4):
        assert (await amend(env, record["id"], note(text=f"v{version + 1}"), version)).status_code == 200
    url = f"{RECORDS}/{record['id']}/history"
    first = (await env.client.get(url, params={"limit": 3}, headers=env.admin)).json()
    assert [v["text"] for v in first["items"]] == ["v1", "v2", "v3"]
    rest = (await env.client.get(url, params={"limit": 3, "cursor": first["next_cursor"]}, headers=env.admin)).json()
    assert [v["text"] for v in rest["items"]] == ["v4"]
    assert rest["next_cursor"] is None


async def test_concurrent_amendments_of_one_version_make_exactly_one_new_version(env, record):
    await env.warm_pool(6)
    answers = await asyncio.gather(
        *(amend(env, record["id"], diagnosis(code="E11.9", description=f"take {n}"), 1) for n in range(6))
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [412] * 5, [a.text for a in answers]
    assert await env.count("medical_record_versions") == 2
