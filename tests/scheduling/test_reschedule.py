from __future__ import annotations

import pytest

from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import (
    assert_problem,
    at,
    book,
    make_appointment,
    outbox_payloads,
    snapshot,
    travel,
)

URL = "/api/v1/appointments"


@pytest.fixture
async def setting(env):
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    appointment = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(10))
    return doctor, patient, appointment


async def reschedule(env, appointment_id, headers=None, **body):
    return await env.client.post(f"{URL}/{appointment_id}/reschedule", json=body, headers=headers or env.admin)


async def test_reschedule_moves_the_appointment_and_keeps_its_duration(env, setting):
    _, _, appointment = setting
    response = await reschedule(env, appointment["id"], start=at(14))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["start"], body["end"], body["duration_minutes"]) == (at(14), at(14, 30), 30)
    assert (body["status"], body["number"], body["version"]) == ("scheduled", appointment["number"], 2)
    assert response.headers["ETag"] == '"2"'
    assert (await outbox_payloads(env, "appointment.rescheduled"))[0] == {
        "appointment_id": appointment["id"],
        "number": appointment["number"],
        "patient_id": appointment["patient_id"],
        "practitioner_id": appointment["practitioner_id"],
        "specialty": "cardiology",
        "start": at(14),
        "end": at(14, 30),
        "duration_minutes": 30,
        "status": "scheduled",
        "previous_start": at(10),
        "previous_end": at(10, 30),
    }
    assert await env.count("audit_events", "action = 'appointment.reschedule'") == 1


async def test_reschedule_may_change_the_duration(env, setting):
    _, _, appointment = setting
    body = (await reschedule(env, appointment["id"], start=at(10), duration_minutes=60)).json()
    assert (body["start"], body["end"], body["duration_minutes"]) == (at(10), at(11), 60)


async def test_an_appointment_may_move_into_its_own_time(env, setting):
    _, _, appointment = setting
    response = await reschedule(env, appointment["id"], start=at(10, 15))
    assert response.status_code == 200, response.text


async def test_the_old_slot_is_free_after_a_move(env, setting):
    doctor, _, appointment = setting
    await reschedule(env, appointment["id"], start=at(14))
    other = await make_patient(env)
    assert (await book(env, other["id"], doctor["id"], at(10))).status_code == 201


@pytest.mark.parametrize(
    ("start", "duration", "status", "code"),
    [
        (at(5), None, 422, "APPOINTMENT_IN_PAST"),
        (at(7, 30), None, 422, "OUTSIDE_WORKING_HOURS"),
        (at(17, 45), None, 422, "OUTSIDE_WORKING_HOURS"),
        (at(17), 90, 422, "OUTSIDE_WORKING_HOURS"),
        (at(11, 15), None, 409, "APPOINTMENT_CONFLICT"),
        (at(12, 45), None, 409, "PATIENT_DOUBLE_BOOKED"),
        (at(10), 14, 422, "VALIDATION_ERROR"),
    ],
)
async def test_reschedule_applies_the_booking_rules(env, setting, start, duration, status, code):
    doctor, patient, appointment = setting
    await make_appointment(env, patient_id=(await make_patient(env))["id"], practitioner_id=doctor["id"], start=at(11))
    colleague = await make_practitioner(env)
    await make_appointment(env, patient_id=patient["id"], practitioner_id=colleague["id"], start=at(13))
    before = await snapshot(env)

    body = {"start": start} | ({"duration_minutes": duration} if duration else {})
    assert_problem(await reschedule(env, appointment["id"], **body), status, code)

    assert await snapshot(env) == before
    current = (await env.client.get(f"{URL}/{appointment['id']}", headers=env.admin)).json()
    assert (current["start"], current["version"]) == (at(10), 1)


async def test_a_longer_visit_that_would_run_into_the_next_is_a_conflict(env, setting):
    doctor, _, appointment = setting
    await make_appointment(env, patient_id=(await make_patient(env))["id"], practitioner_id=doctor["id"], start=at(11))
    assert (await reschedule(env, appointment["id"], start=at(10), duration_minutes=60)).status_code == 200
    response = await reschedule(env, appointment["id"], start=at(10), duration_minutes=61)
    assert_problem(response, 409, "APPOINTMENT_CONFLICT")


async def test_a_past_appointment_can_be_moved_to_the_future(env, setting):
    _, _, appointment = setting
    await travel(env, at(10, 15))
    assert (await reschedule(env, appointment["id"], start=at(15))).status_code == 200


@pytest.mark.parametrize("body", [{}, {"start": "later"}, {"start": at(12), "patient_id": "x"}])
async def test_malformed_reschedules_are_problems(env, setting, body):
    _, _, appointment = setting
    response = await env.client.post(f"{URL}/{appointment['id']}/reschedule", json=body, headers=env.admin)
    assert_problem(response, 422, "VALIDATION_ERROR")


async def test_moving_to_the_same_time_is_still_a_new_version(env, setting):
    _, _, appointment = setting
    body = (await reschedule(env, appointment["id"], start=at(10))).json()
    assert (body["start"], body["version"]) == (at(10), 2)
