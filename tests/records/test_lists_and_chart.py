"""Listing entries (filters, newest first, pages), the patient's chart, and the audit records every read leaves."""

from __future__ import annotations

import uuid

from tests.builders.orders import cancel, place_order, prescription, stock_medication
from tests.builders.records import (
    RECORDS,
    allergy,
    diagnosis,
    make_encounter,
    make_record,
    note,
    procedure,
    vital_signs,
)
from tests.builders.scheduling import at
from tests.harness import assert_problem, every_page


async def _ids(env, headers=None, **params):
    return [item["id"] for item in await every_page(env, RECORDS, headers or env.admin, **params)]


async def test_the_list_is_newest_first_and_filters_by_patient_type_and_appointment(env):
    visit, other = await make_encounter(env), await make_encounter(env)
    patient, appointment = visit["patient"]["id"], visit["appointment"]["id"]
    made = []
    for body, in_visit in ((diagnosis(), True), (note(), False), (procedure(), True), (note(text="later"), True)):
        env.clock.advance(minutes=1)
        made.append(await make_record(env, patient, body, appointment_id=appointment if in_visit else None))
    env.clock.advance(minutes=1)
    elsewhere = await make_record(env, other["patient"]["id"], note())
    newest_first = [record["id"] for record in reversed(made)]

    assert await _ids(env, patient_id=patient) == newest_first
    assert await _ids(env) == [elsewhere["id"], *newest_first]
    assert await _ids(env, patient_id=patient, type="note") == [made[3]["id"], made[1]["id"]]
    assert await _ids(env, appointment_id=appointment) == [made[3]["id"], made[2]["id"], made[0]["id"]]
    assert await _ids(env, appointment_id=appointment, type="procedure") == [made[2]["id"]]
    assert await _ids(env, patient_id=str(uuid.uuid4())) == []
    first = (await env.client.get(RECORDS, params={"patient_id": patient, "limit": 3}, headers=env.admin)).json()
    assert [item["id"] for item in first["items"]] == newest_first[:3]
    rest = await env.client.get(
        RECORDS, params={"patient_id": patient, "limit": 3, "cursor": first["next_cursor"]}, headers=env.admin
    )
    assert [item["id"] for item in rest.json()["items"]] == newest_first[3:]
    assert rest.json()["next_cursor"] is None


async def test_a_list_refuses_an_unknown_type_and_a_forged_cursor(env):
    assert_problem(await env.client.get(RECORDS, params={"type": "x-ray"}, headers=env.admin), 422, "VALIDATION_ERROR")
    forged = await env.client.get(RECORDS, params={"cursor": "not-a-cursor"}, headers=env.admin)
    assert_problem(forged, 422, "INVALID_CURSOR")


async def test_every_read_is_audited(env):
    visit = await make_encounter(env)
    first = await make_record(env, visit["patient"]["id"], note())
    second = await make_record(env, visit["patient"]["id"], allergy())

    async def audited(action, entity_id=None):
        if entity_id is None:
            return await env.count("audit_events", "action = :action", action=action)
        return await env.count("audit_events", "action = :action AND entity_id = :id", action=action, id=entity_id)

    assert await audited("medical_record.create", first["id"]) == 1
    await env.client.get(f"{RECORDS}/{first['id']}", headers=env.admin)
    assert await audited("medical_record.read", first["id"]) == 1
    await env.client.get(RECORDS, params={"patient_id": visit["patient"]["id"]}, headers=env.admin)
    assert await audited("medical_record.list") == 1
    assert await audited("medical_record.list_read", first["id"]) == 1
    assert await audited("medical_record.list_read", second["id"]) == 1
    await env.client.get(f"{RECORDS}/{first['id']}/history", headers=env.admin)
    assert await audited("medical_record.history_read", first["id"]) == 1
    await env.client.get(f"/api/v1/patients/{visit['patient']['id']}/chart", headers=env.admin)
    assert await audited("patient.chart_read", visit["patient"]["id"]) == 1
    assert await audited("medical_record.list_read", second["id"]) == 2  # the allergy shown on the chart


async def test_the_chart_gathers_the_patients_record(env):
    visit = await make_encounter(env)
    patient_id = visit["patient"]["id"]
    appointment = visit["appointment"]["id"]
    active = await make_record(env, patient_id, diagnosis(code="E11.9"), appointment_id=appointment)
    await make_record(env, patient_id, diagnosis(clinical_status="resolved"))
    retracted = await make_record(env, patient_id, diagnosis(code="J45.909"))
    await env.client.post(f"{RECORDS}/{retracted['id']}/retract", json={"reason": "wrong chart"}, headers=env.admin)
    penicillin = await make_record(env, patient_id, allergy())
    env.clock.advance(minutes=1)
    latex = await make_record(env, patient_id, allergy(substance="Latex", severity="mild"))
    await make_record(env, patient_id, vital_signs(measured_at=at(5, 30), heart_rate=80))
    latest = await make_record(env, patient_id, vital_signs(measured_at=at(5, 45), heart_rate=90))
    await make_record(env, patient_id, vital_signs(measured_at=at(4), heart_rate=70))  # recorded last, measured first
    await make_record(env, patient_id, note())
    medication = await stock_medication(env)
    under_way = await place_order(env, prescription(visit["patient"], visit["practitioner"], (medication, 1)))
    cancelled = await place_order(env, prescription(visit["patient"], visit["practitioner"], (medication, 1)))
    assert (await cancel(env, cancelled["id"], reason="changed plan")).status_code == 200
    other = await make_encounter(env)
    await make_record(env, other["patient"]["id"], allergy(substance="Nuts"))

    response = await env.client.get(f"/api/v1/patients/{patient_id}/chart", headers=env.admin)
    assert response.status_code == 200, response.text
    chart = response.json()
    assert chart["patient"]["id"] == patient_id
    assert chart["patient"]["last_name"] == visit["patient"]["last_name"]
    assert [d["id"] for d in chart["active_diagnoses"]] == [active["id"]]
    assert [a["id"] for a in chart["allergies"]] == [latex["id"], penicillin["id"]]
    assert chart["latest_vital_signs"]["id"] == latest["id"]
    assert [e["id"] for e in chart["recent_encounters"]] == [appointment]
    assert [o["id"] for o in chart["active_orders"]] == [under_way["id"]]


async def test_an_empty_chart_and_an_unknown_patient(env):
    visit = await make_encounter(env)
    chart = (await env.client.get(f"/api/v1/patients/{visit['patient']['id']}/chart", headers=env.admin)).json()
    assert chart["active_diagnoses"] == chart["allergies"] == chart["active_orders"] == []
    assert chart["latest_vital_signs"] is None
    missing = await env.client.get(f"/api/v1/patients/{uuid.uuid4()}/chart", headers=env.admin)
    assert_problem(missing, 404, "PATIENT_NOT_FOUND")


async def test_who_reads_a_chart(env):
    mine, theirs = await make_encounter(env), await make_encounter(env)
    me = await env.user(["patient"], patient_id=mine["patient"]["id"])
    assert (await env.client.get(f"/api/v1/patients/{mine['patient']['id']}/chart", headers=me)).status_code == 200
    other = await env.client.get(f"/api/v1/patients/{theirs['patient']['id']}/chart", headers=me)
    assert_problem(other, 404, "PATIENT_NOT_FOUND")
    for role, status in (("doctor", 200), ("nurse", 200), ("receptionist", 403), ("billing_clerk", 403)):
        headers = await env.user([role])
        response = await env.client.get(f"/api/v1/patients/{mine['patient']['id']}/chart", headers=headers)
        assert response.status_code == status, role


async def test_the_contract_gives_an_encounters_codes_in_the_order_recorded(env):
    from caremesh.records.contract import coded_entries

    visit = await make_encounter(env)
    patient_id, appointment = visit["patient"]["id"], visit["appointment"]["id"]
    first = await make_record(env, patient_id, diagnosis(code="E11.9"), appointment_id=appointment)
    env.clock.advance(minutes=1)
    billed = await make_record(env, patient_id, procedure(quantity=2), appointment_id=appointment)
    env.clock.advance(minutes=1)
    second = await make_record(env, patient_id, diagnosis(code="I10"), appointment_id=appointment)
    wrong = await make_record(env, patient_id, diagnosis(code="J45.909"), appointment_id=appointment)
    await env.client.post(f"{RECORDS}/{wrong['id']}/retract", json={"reason": "duplicate"}, headers=env.admin)
    await make_record(env, patient_id, note(), appointment_id=appointment)
    await make_record(env, patient_id, diagnosis(code="K21.9"))  # not of this encounter
    async with env.uow() as uow:
        found = await coded_entries(uow.session, uuid.UUID(appointment))
    assert [(str(e.id), e.type, e.code, e.quantity) for e in found] == [
        (first["id"], "diagnosis", "E11.9", None),
        (billed["id"], "procedure", "99213", 2),
        (second["id"], "diagnosis", "I10", None),
    ]
