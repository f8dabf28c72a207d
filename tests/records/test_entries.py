"""Recording entries of each type through the API: what is stored, what is refused (422, nothing written), the
encounter's checks, and the events in the outbox."""

from __future__ import annotations

import uuid

import pytest

from caremesh.records.domain import VITAL_BOUNDS
from tests.builders.records import (
    RECORDS,
    allergy,
    diagnosis,
    entry,
    make_encounter,
    make_record,
    note,
    post_record,
    procedure,
    snapshot,
    vital_signs,
)
from tests.harness import assert_problem, outbox_payloads


@pytest.fixture
async def visit(env):
    return await make_encounter(env)


async def test_a_diagnosis_takes_the_code_sets_description_and_writes_its_code_with_the_dot(env, visit):
    patient, appointment = visit["patient"]["id"], visit["appointment"]["id"]
    response = await post_record(env, patient, diagnosis(code="e119"), appointment_id=appointment)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"{RECORDS}/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["code"] == "E11.9"
    assert body["description"] == "Type 2 diabetes mellitus without complications"
    assert (body["type"], body["status"], body["version"]) == ("diagnosis", "current", 1)
    assert (body["patient_id"], body["appointment_id"]) == (patient, appointment)
    assert body["author_id"] is not None
    assert body["recorded_at"].endswith("Z")
    assert body["text"] is None
    assert body["heart_rate"] is None
    read = await env.client.get(f"{RECORDS}/{body['id']}", headers=env.admin)
    assert read.status_code == 200
    assert read.json() == body
    assert read.headers["ETag"] == '"1"'


async def test_a_diagnosis_keeps_a_description_given(env, visit):
    body = await make_record(env, visit["patient"]["id"], diagnosis(code="J45.909", description="Asthma, mild"))
    assert (body["code"], body["description"]) == ("J45.909", "Asthma, mild")


@pytest.mark.parametrize("kind", ["allergy", "vital_signs", "note", "procedure"])
async def test_every_type_is_recorded_with_its_fields(env, visit, kind):
    sent = entry(kind)
    body = await make_record(env, visit["patient"]["id"], sent, appointment_id=visit["appointment"]["id"])
    for field, value in sent.items():
        assert body[field] == value, field
    assert body["status"] == "current"


async def test_an_entry_without_an_encounter_is_the_patients_alone(env, visit):
    body = await make_record(env, visit["patient"]["id"], allergy())
    assert body["appointment_id"] is None


@pytest.mark.parametrize("code", ["Z99.999", "XYZ", "A00", "A00-A09", "1", "I10.0.0", "I1"])
async def test_a_code_not_billable_in_icd10cm_is_refused(env, visit, code):
    before = await snapshot(env)
    problem = assert_problem(
        await post_record(env, visit["patient"]["id"], diagnosis(code=code)), 422, "UNKNOWN_DIAGNOSIS_CODE"
    )
    assert problem["errors"][0]["loc"] == ["code"]
    assert await snapshot(env) == before


def _out_of_bounds() -> list[tuple[str, float]]:
    cases = []
    for name, bound in VITAL_BOUNDS.items():
        step = 0.1 if name in ("temperature_c", "weight_kg", "height_cm") else 1
        cases += [(name, round(bound.low - step, 1)), (name, round(bound.high + step, 1))]
    return cases


@pytest.mark.parametrize(("measure", "value"), _out_of_bounds())
async def test_a_measure_outside_its_bounds_is_refused(env, visit, measure, value):
    before = await snapshot(env)
    body = {"type": "vital_signs", "measured_at": vital_signs()["measured_at"], measure: value}
    problem = assert_problem(await post_record(env, visit["patient"]["id"], body), 422, "VALIDATION_ERROR")
    assert any(measure in map(str, error["loc"]) for error in problem["errors"]), problem
    assert await snapshot(env) == before


@pytest.mark.parametrize("edge", ["low", "high"])
async def test_the_bounds_themselves_are_accepted(env, visit, edge):
    values = {name: getattr(bound, edge) for name, bound in VITAL_BOUNDS.items()}
    if edge == "high":
        values["diastolic_bp"] = 200  # below systolic's 300
    body = await make_record(
        env, visit["patient"]["id"], {"type": "vital_signs", "measured_at": "2030-01-07T05:00:00Z", **values}
    )
    assert body["heart_rate"] == values["heart_rate"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"type": "vital_signs", "measured_at": "2030-01-07T05:00:00Z"}, "no measure"),
        (vital_signs(systolic_bp=90, diastolic_bp=90), "diastolic not below systolic"),
        (vital_signs(measured_at=None), "no measured_at"),
        (vital_signs(heart_rate=72.5), "a fractional heart rate"),
        (note(text=""), "an empty note"),
        (note(text="x" * 20_001), "a note too long"),
        (procedure(code="9921"), "four characters"),
        (procedure(code="992134"), "six characters"),
        (procedure(code="ABCDE"), "not CPT or HCPCS"),
        (procedure(quantity=0), "no quantity"),
        (procedure(quantity=None), "quantity missing"),
        (allergy(severity="fatal"), "unknown severity"),
        (allergy(substance=" "), "no substance"),
        (diagnosis(clinical_status="maybe"), "unknown clinical status"),
        (allergy(code="I10"), "a field of another type"),
        (note(heart_rate=70), "a field of another type"),
        ({"type": "x-ray", "text": "a"}, "unknown type"),
        ({"text": "no type"}, "no type"),
    ],
)
async def test_malformed_entries_are_refused_and_nothing_is_written(env, visit, body, why):
    before = await snapshot(env)
    response = await post_record(env, visit["patient"]["id"], body)
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert await snapshot(env) == before, why


async def test_a_measure_or_an_onset_from_the_future_is_refused(env, visit):
    before = await snapshot(env)
    ahead = await post_record(env, visit["patient"]["id"], vital_signs(measured_at="2030-01-07T06:06:00Z"))
    assert_problem(ahead, 422, "VALIDATION_ERROR")  # the test clock stands at 06:00 UTC
    onset = await post_record(env, visit["patient"]["id"], diagnosis(onset_date="2030-01-08"))
    assert_problem(onset, 422, "VALIDATION_ERROR")
    assert await snapshot(env) == before
    skewed = await make_record(env, visit["patient"]["id"], vital_signs(measured_at="2030-01-07T06:04:00Z"))
    assert skewed["measured_at"] == "2030-01-07T06:04:00Z"


async def test_a_note_of_twenty_thousand_characters_is_kept_whole(env, visit):
    body = await make_record(env, visit["patient"]["id"], note(text="é" * 20_000))
    assert len(body["text"]) == 20_000


async def test_the_appointment_must_be_the_patients(env, visit):
    other = await make_encounter(env)
    before = await snapshot(env)
    problem = await post_record(env, other["patient"]["id"], note(), appointment_id=visit["appointment"]["id"])
    assert_problem(problem, 422, "APPOINTMENT_OF_ANOTHER_PATIENT")
    assert await snapshot(env) == before


async def test_an_unknown_patient_or_appointment_is_not_found(env, visit):
    before = await snapshot(env)
    assert_problem(await post_record(env, str(uuid.uuid4()), note()), 404, "PATIENT_NOT_FOUND")
    missing = await post_record(env, visit["patient"]["id"], note(), appointment_id=str(uuid.uuid4()))
    assert_problem(missing, 404, "APPOINTMENT_NOT_FOUND")
    assert await snapshot(env) == before


async def test_an_unknown_entry_is_not_found(env):
    assert_problem(
        await env.client.get(f"{RECORDS}/{uuid.uuid4()}", headers=env.admin), 404, "MEDICAL_RECORD_NOT_FOUND"
    )


async def test_creation_publishes_medical_record_created_without_clinical_content(env, visit):
    body = await make_record(env, visit["patient"]["id"], diagnosis(), appointment_id=visit["appointment"]["id"])
    [payload] = await outbox_payloads(env, "medical_record.created")
    assert payload == {
        "record_id": body["id"],
        "patient_id": visit["patient"]["id"],
        "appointment_id": visit["appointment"]["id"],
        "type": "diagnosis",
        "version": 1,
        "author_id": body["author_id"],
        "recorded_at": body["recorded_at"],
    }


async def test_an_idempotency_key_replays_the_first_answer_and_records_once(env, visit):
    headers = {**env.admin, "Idempotency-Key": "record-once-1"}
    payload = {"patient_id": visit["patient"]["id"], **note()}
    first = await env.client.post(RECORDS, json=payload, headers=headers)
    again = await env.client.post(RECORDS, json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await env.count("medical_records") == 1
