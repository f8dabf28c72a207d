from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import (
    appointment_body,
    assert_problem,
    at,
    book,
    make_appointment,
    outbox_payloads,
    snapshot,
    travel,
)

URL = "/api/v1/appointments"
MISSING = "00000000-0000-4000-8000-000000000000"


async def booked_total(specialty: str) -> float:
    return REGISTRY.get_sample_value("appointments_booked_total", {"specialty": specialty}) or 0.0


@pytest.fixture
async def parties(env):
    doctor = await make_practitioner(env, specialty="orthopedics")
    patient = await make_patient(env)
    return doctor, patient


async def test_booking_returns_the_appointment(env, parties):
    doctor, patient = parties
    before = await booked_total("orthopedics")

    response = await book(env, patient["id"], doctor["id"], at(9), reason="Knee pain")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["number"] == "APT-2030-000001"
    assert body["patient_id"] == patient["id"]
    assert body["practitioner_id"] == doctor["id"]
    assert (body["start"], body["end"], body["duration_minutes"]) == (at(9), at(9, 30), 30)
    assert body["status"] == "scheduled"
    assert body["reason"] == "Knee pain"
    assert body["specialty"] == "orthopedics"
    for field in ("checked_in_at", "started_at", "ended_at", "completed_at", "cancelled_at", "cancellation_reason"):
        assert body[field] is None
    assert body["version"] == 1
    assert body["created_at"] == body["updated_at"] == "2030-01-07T06:00:00Z"
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{URL}/{body['id']}"
    assert await booked_total("orthopedics") == before + 1
    assert await env.count("audit_events", "action = 'appointment.book' AND entity_id = :id", id=body["id"]) == 1


async def test_booking_publishes_appointment_booked(env, parties):
    doctor, patient = parties
    body = await make_appointment(
        env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9), reason="Chest pain"
    )
    # The reason may be clinical: it stays in scheduling.
    assert await outbox_payloads(env, "appointment.booked") == [
        {
            "appointment_id": body["id"],
            "number": body["number"],
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "specialty": "orthopedics",
            "start": at(9),
            "end": at(9, 30),
            "duration_minutes": 30,
            "status": "scheduled",
        }
    ]


async def test_numbers_count_up(env, parties):
    doctor, patient = parties
    first = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9))
    second = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(10))
    assert (first["number"], second["number"]) == ("APT-2030-000001", "APT-2030-000002")


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2030-01-07T09:00:00", at(9)),  # naive: clinic time (UTC in tests)
        ("2030-01-07T14:30:00+05:30", at(9)),
        ("2030-01-07T09:00:00.000Z", at(9)),
    ],
)
async def test_start_is_read_in_the_clinic_timezone_and_answered_in_utc(env, parties, start, expected):
    doctor, patient = parties
    body = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=start)
    assert body["start"] == expected


@pytest.mark.parametrize(("duration", "end"), [(15, at(9, 15)), (180, at(12))])
async def test_duration_limits_are_inclusive(env, parties, duration, end):
    doctor, patient = parties
    body = await make_appointment(
        env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9), duration_minutes=duration
    )
    assert (body["end"], body["duration_minutes"]) == (end, duration)


@pytest.mark.parametrize(
    "change",
    [
        {"duration_minutes": 14},
        {"duration_minutes": 181},
        {"duration_minutes": 30.5},
        {"duration_minutes": "long"},
        {"reason": "x" * 501},
        {"start": "tomorrow morning"},
        {"start": None},
        {"patient_id": "42"},
        {"practitioner_id": None},
        {"room": "4"},
    ],
)
async def test_malformed_bookings_are_problems_and_change_nothing(env, parties, change):
    doctor, patient = parties
    body = {**appointment_body(patient["id"], doctor["id"], at(9)), **change}
    before = await snapshot(env)
    assert_problem(await env.client.post(URL, json=body, headers=env.admin), 422, "VALIDATION_ERROR")
    assert await snapshot(env) == before


async def test_broken_json_and_empty_bodies_are_problems(env, parties):
    headers = {**env.admin, "content-type": "application/json"}
    before = await snapshot(env)
    assert_problem(await env.client.post(URL, content=b"{", headers=headers), 400, "MALFORMED_JSON")
    assert_problem(await env.client.post(URL, json={}, headers=env.admin), 422, "VALIDATION_ERROR")
    assert_problem(await env.client.post(URL, json=[], headers=env.admin), 422, "VALIDATION_ERROR")
    assert await snapshot(env) == before


# --- the rules, and their order --------------------------------------------


async def test_unknown_patient_comes_first(env, parties):
    await travel(env, at(12))
    assert_problem(await book(env, MISSING, MISSING, at(9)), 404, "PATIENT_NOT_FOUND")


async def test_a_removed_patient_cannot_book(env, parties):
    doctor, patient = parties
    assert (await env.client.delete(f"/api/v1/patients/{patient['id']}", headers=env.admin)).status_code == 204
    assert_problem(await book(env, patient["id"], doctor["id"], at(9)), 404, "PATIENT_NOT_FOUND")


async def test_unknown_practitioner_comes_before_time_rules(env, parties):
    _, patient = parties
    await travel(env, at(12))
    assert_problem(await book(env, patient["id"], MISSING, at(9)), 404, "PRACTITIONER_NOT_FOUND")


async def test_a_removed_practitioner_cannot_be_booked(env, parties):
    doctor, patient = parties
    await env.client.delete(f"/api/v1/practitioners/{doctor['id']}", headers=env.admin)
    assert_problem(await book(env, patient["id"], doctor["id"], at(9)), 404, "PRACTITIONER_NOT_FOUND")


async def test_a_past_start_at_a_taken_slot_is_in_the_past_not_a_conflict(env, parties):
    doctor, patient = parties
    await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9))
    await travel(env, at(9, 10))
    before = await snapshot(env)
    response = await book(env, patient["id"], doctor["id"], at(9))
    body = assert_problem(response, 422, "APPOINTMENT_IN_PAST")
    assert body["errors"][0]["loc"] == ["start"]
    assert await snapshot(env) == before


async def test_a_past_start_outside_hours_is_in_the_past(env, parties):
    doctor, patient = parties
    await travel(env, at(19))
    assert_problem(await book(env, patient["id"], doctor["id"], at(18)), 422, "APPOINTMENT_IN_PAST")


async def test_start_now_is_not_past_but_a_second_ago_is(env, parties):
    doctor, patient = parties
    await travel(env, at(10))
    assert_problem(await book(env, patient["id"], doctor["id"], "2030-01-07T09:59:59Z"), 422, "APPOINTMENT_IN_PAST")
    assert (await book(env, patient["id"], doctor["id"], at(10))).status_code == 201


async def test_outside_hours_comes_before_a_conflict(env, parties):
    doctor, patient = parties
    await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(17, 30))
    other = await make_patient(env)
    assert_problem(await book(env, other["id"], doctor["id"], at(17, 45)), 422, "OUTSIDE_WORKING_HOURS")


@pytest.mark.parametrize(
    ("start", "duration"),
    [
        (at(7, 45), 30),  # starts before opening
        (at(17, 45), 30),  # runs past closing
        (at(8), 601),  # longer than the day (and than allowed)
        (at(9, days=5), 30),  # Saturday
        (at(9, days=6), 30),  # Sunday
        (at(23, 50), 30),  # crosses midnight
    ],
)
async def test_visits_must_lie_inside_working_hours(env, parties, start, duration):
    doctor, patient = parties
    before = await snapshot(env)
    response = await book(env, patient["id"], doctor["id"], start, duration_minutes=duration)
    code = "VALIDATION_ERROR" if duration > 180 else "OUTSIDE_WORKING_HOURS"
    assert_problem(response, 422, code)
    assert await snapshot(env) == before


@pytest.mark.parametrize(("start", "duration"), [(at(8), 30), (at(17, 30), 30), (at(8), 180), (at(15), 180)])
async def test_visits_at_the_edges_of_working_hours_fit(env, parties, start, duration):
    doctor, patient = parties
    response = await book(env, patient["id"], doctor["id"], start, duration_minutes=duration)
    assert response.status_code == 201, response.text


async def test_a_visit_must_fit_one_window_even_when_windows_touch(env):
    hours = [{"weekday": 0, "start": "08:00", "end": "12:00"}, {"weekday": 0, "start": "12:00", "end": "16:00"}]
    doctor = await make_practitioner(env, working_hours=hours)
    patient = await make_patient(env)
    assert_problem(await book(env, patient["id"], doctor["id"], at(11, 45)), 422, "OUTSIDE_WORKING_HOURS")
    assert (await book(env, patient["id"], doctor["id"], at(11, 30))).status_code == 201
    assert (await book(env, patient["id"], doctor["id"], at(12))).status_code == 201


async def test_a_practitioner_without_hours_cannot_be_booked(env):
    doctor = await make_practitioner(env, working_hours=[])
    patient = await make_patient(env)
    assert_problem(await book(env, patient["id"], doctor["id"], at(9)), 422, "OUTSIDE_WORKING_HOURS")


async def test_a_practitioner_conflict_comes_before_the_patients_double_booking(env, parties):
    doctor, patient = parties
    colleague = await make_practitioner(env)
    other = await make_patient(env)
    await make_appointment(env, patient_id=patient["id"], practitioner_id=colleague["id"], start=at(9))
    await make_appointment(env, patient_id=other["id"], practitioner_id=doctor["id"], start=at(9))
    # The doctor is busy and the patient is elsewhere: the practitioner's conflict is reported.
    assert_problem(await book(env, patient["id"], doctor["id"], at(9)), 409, "APPOINTMENT_CONFLICT")


@pytest.mark.parametrize(
    ("start", "duration"),
    [(at(9), 30), (at(8, 45), 30), (at(9, 15), 30), (at(9, 10), 15), (at(8, 30), 120)],
)
async def test_overlapping_the_practitioners_appointment_is_a_conflict(env, parties, start, duration):
    doctor, patient = parties
    await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9))
    other = await make_patient(env)
    before = await snapshot(env)
    response = await book(env, other["id"], doctor["id"], start, duration_minutes=duration)
    assert_problem(response, 409, "APPOINTMENT_CONFLICT")
    assert await snapshot(env) == before


@pytest.mark.parametrize(("start", "duration"), [(at(9), 30), (at(8, 45), 30), (at(9, 29), 15)])
async def test_overlapping_the_patients_own_appointment_is_double_booking(env, parties, start, duration):
    doctor, patient = parties
    colleague = await make_practitioner(env)
    await make_appointment(env, patient_id=patient["id"], practitioner_id=colleague["id"], start=at(9))
    response = await book(env, patient["id"], doctor["id"], start, duration_minutes=duration)
    assert_problem(response, 409, "PATIENT_DOUBLE_BOOKED")
    assert await env.count("appointments") == 1


async def test_back_to_back_appointments_are_fine(env, parties):
    doctor, patient = parties
    await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9))
    assert (await book(env, patient["id"], doctor["id"], at(9, 30))).status_code == 201
    assert (await book(env, patient["id"], doctor["id"], at(8, 30))).status_code == 201
    other = await make_patient(env)
    assert (await book(env, other["id"], doctor["id"], at(10))).status_code == 201
    assert await env.count("appointments") == 4


async def test_a_cancelled_appointment_frees_the_slot_for_practitioner_and_patient(env, parties):
    doctor, patient = parties
    first = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9))
    await env.client.post(f"{URL}/{first['id']}/cancel", headers=env.admin)

    other = await make_patient(env)
    assert (await book(env, other["id"], doctor["id"], at(9))).status_code == 201
    colleague = await make_practitioner(env)
    assert (await book(env, patient["id"], colleague["id"], at(9))).status_code == 201


@pytest.mark.parametrize("status", ["checked-in", "completed", "no-show"])
async def test_appointments_hold_their_slot_in_every_status_but_cancelled(env, parties, status):
    doctor, patient = parties
    first = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9, 30))
    await travel(env, at(9, 30))
    action = {"checked-in": "check-in", "completed": "complete", "no-show": "no-show"}[status]
    assert (await env.client.post(f"{URL}/{first['id']}/{action}", headers=env.admin)).status_code == 200
    other = await make_patient(env)
    assert_problem(
        await book(env, other["id"], doctor["id"], at(9, 45), duration_minutes=15), 409, "APPOINTMENT_CONFLICT"
    )


@pytest.mark.parametrize("roles", [["doctor"], ["nurse"], ["billing_clerk"]])
async def test_roles_without_booking_permission_are_forbidden(env, parties, roles):
    doctor, patient = parties
    headers = await env.user(roles)
    assert_problem(await book(env, patient["id"], doctor["id"], at(9), headers), 403, "FORBIDDEN")
    assert await env.count("appointments") == 0


async def test_receptionists_book(env, parties):
    doctor, patient = parties
    headers = await env.user(["receptionist"])
    assert (await book(env, patient["id"], doctor["id"], at(9), headers)).status_code == 201


@pytest.mark.parametrize("start", [1893999600, 1893999600.5])
async def test_a_unix_number_is_not_a_start_time(env, start):
    patient, doctor = await make_patient(env), await make_practitioner(env)
    body = {"patient_id": patient["id"], "practitioner_id": doctor["id"], "start": start}
    response = await env.client.post("/api/v1/appointments", json=body, headers=env.admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["start"]
    assert await env.count("appointments") == 0
