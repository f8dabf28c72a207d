"""A clinic in Asia/Kolkata (+05:30): naive request times and working hours are local, answers are UTC."""

from __future__ import annotations

from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import assert_problem, book


async def test_naive_times_are_clinic_local_and_answers_are_utc(make_env):
    async with make_env(timezone="Asia/Kolkata") as env:  # the clock: Monday 06:00Z = 11:30 in Kolkata
        patient, doctor = await make_patient(env), await make_practitioner(env)  # Mon-Fri 08:00-18:00 local

        response = await book(env, patient["id"], doctor["id"], "2030-01-07T14:00:00")
        assert response.status_code == 201, response.text
        assert response.json()["start"] == "2030-01-07T08:30:00Z"
        assert response.json()["end"] == "2030-01-07T09:00:00Z"

        offset = await book(env, patient["id"], doctor["id"], "2030-01-07T15:00:00+05:30")
        assert offset.json()["start"] == "2030-01-07T09:30:00Z"


async def test_working_hours_are_read_in_the_clinic_timezone(make_env):
    async with make_env(timezone="Asia/Kolkata") as env:
        patient, doctor = await make_patient(env), await make_practitioner(env)
        # 17:45 local ends at 18:15, past the 18:00 close, although 12:15Z looks like midday in UTC.
        late = await book(env, patient["id"], doctor["id"], "2030-01-07T17:45:00")
        assert_problem(late, 422, "OUTSIDE_WORKING_HOURS")
        # 11:00 local on Monday is before the clock's 11:30 local: in the past.
        past = await book(env, patient["id"], doctor["id"], "2030-01-07T11:00:00")
        assert_problem(past, 422, "APPOINTMENT_IN_PAST")
        slots = await env.client.get(
            f"/api/v1/practitioners/{doctor['id']}/availability",
            params={"date": "2030-01-08", "duration_minutes": 60},
            headers=env.admin,
        )
        starts = [slot["start"] for slot in slots.json()["slots"]]
        assert starts[0] == "2030-01-08T02:30:00Z"  # 08:00 local
        assert starts[-1] == "2030-01-08T11:30:00Z"  # the last hour, 17:00-18:00 local
        assert all(s.endswith("Z") for s in starts)


async def test_every_signed_in_user_reads_the_clinics_time_zone_name_and_currency(make_env):
    async with make_env(timezone="Asia/Kolkata") as env:
        patient = await env.user(["patient"], patient_id=(await make_patient(env))["id"])
        for headers in (env.admin, await env.user(["receptionist"]), patient):
            response = await env.client.get("/api/v1/clinic", headers=headers)
            assert response.status_code == 200, response.text
            assert response.json() == {"name": "CAREMESH DEMO CLINIC", "timezone": "Asia/Kolkata", "currency": "INR"}
        assert (await env.client.get("/api/v1/clinic")).status_code == 401
