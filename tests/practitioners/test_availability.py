from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from caremesh.platform import timeutil
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import assert_problem, at, book, day, make_appointment, travel


async def availability(env, practitioner_id, *, headers=None, **params):
    params.setdefault("date", day().isoformat())
    url = f"/api/v1/practitioners/{practitioner_id}/availability"
    return await env.client.get(url, params=params, headers=headers or env.admin)


async def slot_starts(env, practitioner_id, **params) -> list[str]:
    response = await availability(env, practitioner_id, **params)
    assert response.status_code == 200, response.text
    return [slot["start"] for slot in response.json()["slots"]]


async def test_a_free_day_offers_every_slot_of_the_working_hours(env):
    doctor = await make_practitioner(env)
    response = await availability(env, doctor["id"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["date"] == "2030-01-07"
    assert body["duration_minutes"] == 30
    slots = body["slots"]
    assert len(slots) == 20
    assert slots[0] == {"start": at(8), "end": at(8, 30)}
    assert slots[-1] == {"start": at(17, 30), "end": at(18)}


async def test_slots_step_by_the_duration_and_must_fit(env):
    doctor = await make_practitioner(env)
    starts = await slot_starts(env, doctor["id"], duration_minutes=45)
    assert len(starts) == 13
    assert starts[:2] == [at(8), at(8, 45)]
    assert starts[-1] == at(17)  # 17:45-18:30 would run past closing


async def test_booked_time_is_not_offered_but_its_neighbours_are(env):
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9))
    other = await make_patient(env)
    await make_appointment(env, patient_id=other["id"], practitioner_id=doctor["id"], start=at(10, 15))

    starts = await slot_starts(env, doctor["id"])

    assert at(9) not in starts
    assert at(10) not in starts  # 10:00-10:30 overlaps 10:15
    assert at(10, 30) not in starts  # 10:30-11:00 overlaps until 10:45
    assert {at(8, 30), at(9, 30), at(11)} <= set(starts)  # back to back is free
    assert len(starts) == 17


async def test_cancelled_appointments_free_their_slot(env):
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    appointment = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9))
    assert at(9) not in await slot_starts(env, doctor["id"])
    await env.client.post(f"/api/v1/appointments/{appointment['id']}/cancel", headers=env.admin)
    assert at(9) in await slot_starts(env, doctor["id"])


async def test_other_practitioners_bookings_do_not_matter(env):
    doctor, colleague = await make_practitioner(env), await make_practitioner(env)
    patient = await make_patient(env)
    await make_appointment(env, patient_id=patient["id"], practitioner_id=colleague["id"], start=at(9))
    assert at(9) in await slot_starts(env, doctor["id"])


async def test_slots_that_started_already_are_not_offered(env):
    doctor = await make_practitioner(env)
    await travel(env, at(12, 10))
    starts = await slot_starts(env, doctor["id"])
    assert starts[0] == at(12, 30)
    await travel(env, at(12, 30))
    assert (await slot_starts(env, doctor["id"]))[0] == at(12, 30)  # starting now is still bookable


async def test_past_days_and_days_off_have_no_slots(env):
    doctor = await make_practitioner(env)
    assert await slot_starts(env, doctor["id"], date=day(-7).isoformat()) == []
    assert await slot_starts(env, doctor["id"], date=day(5).isoformat()) == []  # Saturday
    assert await slot_starts(env, doctor["id"], date=day(6).isoformat()) == []  # Sunday


async def test_each_window_starts_its_own_slots(env):
    hours = [{"weekday": 1, "start": "08:10", "end": "09:20"}, {"weekday": 1, "start": "14:00", "end": "15:00"}]
    doctor = await make_practitioner(env, working_hours=hours)
    starts = await slot_starts(env, doctor["id"], date=day(1).isoformat())
    assert starts == [at(8, 10, days=1), at(8, 40, days=1), at(14, days=1), at(14, 30, days=1)]


async def test_any_reader_may_ask(env):
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    headers = await env.user(["patient"], patient_id=patient["id"])
    assert len(await slot_starts(env, doctor["id"], headers=headers)) == 20


@pytest.mark.parametrize(
    "params",
    [
        {"duration_minutes": 14},
        {"duration_minutes": 181},
        {"duration_minutes": "half an hour"},
        {"date": "07/01/2030"},
        {"date": ""},
    ],
)
async def test_bad_questions_are_problems(env, params):
    doctor = await make_practitioner(env)
    assert_problem(await availability(env, doctor["id"], **params), 422, "VALIDATION_ERROR")


async def test_date_is_required(env):
    doctor = await make_practitioner(env)
    url = f"/api/v1/practitioners/{doctor['id']}/availability"
    assert_problem(await env.client.get(url, headers=env.admin), 422, "VALIDATION_ERROR")


async def test_unknown_or_removed_practitioner_has_no_availability(env):
    doctor = await make_practitioner(env)
    await env.client.delete(f"/api/v1/practitioners/{doctor['id']}", headers=env.admin)
    assert_problem(await availability(env, doctor["id"]), 404, "PRACTITIONER_NOT_FOUND")
    assert_problem(await availability(env, "00000000-0000-4000-8000-000000000000"), 404, "PRACTITIONER_NOT_FOUND")


@pytest.fixture
def kolkata(env):
    """The clinic is in India (UTC+05:30) for this test."""
    previous = timeutil.clinic_timezone()
    timeutil.set_clinic_timezone(ZoneInfo("Asia/Kolkata"))
    yield
    timeutil.set_clinic_timezone(previous)


@pytest.mark.usefixtures("kolkata")
async def test_working_hours_and_dates_are_clinic_local(env):
    # 06:00 UTC is 11:30 in Kolkata; the working day ends at 18:00 local = 12:30 UTC.
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    starts = await slot_starts(env, doctor["id"])
    assert starts[0] == at(6)
    assert starts[-1] == at(12)
    assert len(starts) == 13

    naive_local = await make_appointment(
        env, patient_id=patient["id"], practitioner_id=doctor["id"], start="2030-01-07T17:30:00"
    )
    assert naive_local["start"] == at(12)
    after_hours = await book(env, patient["id"], doctor["id"], "2030-01-07T18:00:00+05:30")
    assert_problem(after_hours, 422, "OUTSIDE_WORKING_HOURS")
