"""What other contexts read of scheduling through its contract."""

from __future__ import annotations

import uuid
from datetime import datetime

from caremesh.scheduling import contract
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import assert_problem, at, make_appointment, travel

URL = "/api/v1/appointments"


def instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


async def test_counts_by_status(env):
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    ids = [
        (await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(h)))["id"]
        for h in (8, 9, 10, 11, 12)
    ]
    await travel(env, at(12))
    for appointment_id, action in zip(ids, ["check-in", "complete", "cancel", "no-show"], strict=False):
        assert (await env.client.post(f"{URL}/{appointment_id}/{action}", headers=env.admin)).status_code == 200

    async with env.uow() as uow:
        patient_id, doctor_id = uuid.UUID(patient["id"]), uuid.UUID(doctor["id"])
        # open: checked in (8:00) and scheduled (12:00)
        assert await contract.count_open_appointments(uow.session, patient_id=patient_id) == 2
        assert await contract.count_open_appointments(uow.session, practitioner_id=doctor_id) == 2
        assert await contract.count_open_appointments(uow.session, patient_id=uuid.uuid4()) == 0
        # active: everything but the cancelled one
        assert await contract.count_active_appointments(uow.session, practitioner_id=doctor_id) == 4


async def test_find_appointment_and_completed_visits_before(env):
    doctor = await make_practitioner(env, specialty="neurology")
    patient = await make_patient(env)
    first = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9))
    second = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(10))
    await travel(env, at(9, 30))
    await env.client.post(f"{URL}/{first['id']}/complete", headers=env.admin)
    await travel(env, at(10, 30))
    await env.client.post(f"{URL}/{second['id']}/complete", headers=env.admin)

    async with env.uow() as uow:
        found = await contract.find_appointment(uow.session, uuid.UUID(second["id"]))
        assert found is not None
        assert (found.number, found.specialty, found.status) == (second["number"], "neurology", "completed")
        assert (found.started_at, found.ended_at) == (instant(at(10)), instant(at(10, 30)))
        assert found.completed_at == instant(at(10, 30))
        assert await contract.find_appointment(uow.session, uuid.uuid4()) is None

        patient_id = uuid.UUID(patient["id"])
        assert await contract.count_completed_before(uow.session, patient_id, found.start_at) == 1
        assert await contract.count_completed_before(uow.session, patient_id, instant(at(9))) == 0  # not itself
        assert await contract.count_completed_before(uow.session, patient_id, instant(at(11))) == 2


async def test_prior_visits_are_ordered_by_start_not_by_when_they_were_marked_completed(env):
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    monday = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9))
    tuesday = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9, days=1))
    await travel(env, at(12, days=1))
    done = {"started_at": at(9, days=1), "ended_at": at(9, 30, days=1)}
    await env.client.post(f"{URL}/{tuesday['id']}/complete", json=done, headers=env.admin)
    await travel(env, at(12, days=2))  # Monday's visit is only recorded on Wednesday
    late = {"started_at": at(9), "ended_at": at(9, 30)}
    await env.client.post(f"{URL}/{monday['id']}/complete", json=late, headers=env.admin)

    async with env.uow() as uow:
        patient_id = uuid.UUID(patient["id"])
        assert await contract.count_completed_before(uow.session, patient_id, instant(at(9))) == 0
        assert await contract.count_completed_before(uow.session, patient_id, instant(at(9, days=1))) == 1


async def test_a_patient_with_open_appointments_cannot_be_removed(env):
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    appointment = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"])
    response = await env.client.delete(f"/api/v1/patients/{patient['id']}", headers=env.admin)
    assert_problem(response, 409, "PATIENT_HAS_APPOINTMENTS")
    await env.client.post(f"{URL}/{appointment['id']}/cancel", headers=env.admin)
    assert (await env.client.delete(f"/api/v1/patients/{patient['id']}", headers=env.admin)).status_code == 204
