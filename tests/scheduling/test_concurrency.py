"""Many requests against one invariant at once: the database decides, exactly one wins."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from caremesh.scheduling import service
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import assert_problem, at, book

CONTENDERS = 24


async def test_concurrent_bookings_of_one_slot_give_exactly_one_appointment(env):
    doctor = await make_practitioner(env)
    patients = [await make_patient(env) for _ in range(CONTENDERS)]

    responses = await asyncio.gather(*(book(env, p["id"], doctor["id"], at(9)) for p in patients))

    assert Counter(r.status_code for r in responses) == {201: 1, 409: CONTENDERS - 1}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"APPOINTMENT_CONFLICT"}
    assert await env.count("appointments") == 1
    assert (await env.outbox_types()).count("appointment.booked") == 1
    if env.db.dialect == "sqlite":  # the losers' numbers went back; PostgreSQL's sequence may skip them
        assert await env.count("number_sequences", "prefix = 'APT' AND last_value = 1") == 1


async def test_concurrent_overlapping_bookings_at_different_starts_give_one_appointment(env):
    doctor = await make_practitioner(env)
    patients = [await make_patient(env) for _ in range(CONTENDERS)]

    # Every start lies within 30 minutes of every other, so any two of these visits overlap.
    responses = await asyncio.gather(*(book(env, p["id"], doctor["id"], at(9, i)) for i, p in enumerate(patients)))

    assert Counter(r.status_code for r in responses) == {201: 1, 409: CONTENDERS - 1}
    assert await env.count("appointments") == 1


async def test_concurrent_bookings_of_one_patient_with_different_practitioners_give_one(env):
    patient = await make_patient(env)
    doctors = [await make_practitioner(env) for _ in range(CONTENDERS)]

    responses = await asyncio.gather(*(book(env, patient["id"], d["id"], at(9)) for d in doctors))

    assert Counter(r.status_code for r in responses) == {201: 1, 409: CONTENDERS - 1}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"PATIENT_DOUBLE_BOOKED"}
    assert await env.count("appointments") == 1


async def test_concurrent_bookings_of_different_slots_all_succeed(env):
    doctor = await make_practitioner(env)
    patients = [await make_patient(env) for _ in range(12)]

    responses = await asyncio.gather(
        *(book(env, p["id"], doctor["id"], at(8 + i // 2, 30 * (i % 2))) for i, p in enumerate(patients))
    )

    assert [r.status_code for r in responses] == [201] * 12
    numbers = sorted(r.json()["number"] for r in responses)
    assert numbers == [f"APT-2030-{n:06d}" for n in range(1, 13)]


@pytest.mark.parametrize(
    ("same_practitioner", "code"), [(True, "APPOINTMENT_CONFLICT"), (False, "PATIENT_DOUBLE_BOOKED")]
)
async def test_a_race_the_checks_cannot_see_gets_the_right_code_from_the_database(
    env, monkeypatch, same_practitioner, code
):
    # On SQLite transactions are serial, so the lost race is simulated: the checks see nothing.
    doctor, colleague = await make_practitioner(env), await make_practitioner(env)
    patient, other = await make_patient(env), await make_patient(env)
    assert (await book(env, patient["id"], doctor["id"], at(9))).status_code == 201

    async def sees_nothing(*_args, **_kwargs) -> tuple[bool, bool]:
        return False, False

    monkeypatch.setattr(service, "_busy", sees_nothing)
    contender = (other, doctor) if same_practitioner else (patient, colleague)
    response = await book(env, contender[0]["id"], contender[1]["id"], at(9, 15))

    assert_problem(response, 409, code)
    assert await env.count("appointments") == 1
    assert (await env.outbox_types()).count("appointment.booked") == 1


async def test_removing_a_practitioner_while_patients_book_never_strands_an_appointment(env):
    doctor = await make_practitioner(env)
    patients = [await make_patient(env) for _ in range(8)]

    removal, *bookings = await asyncio.gather(
        env.client.delete(f"/api/v1/practitioners/{doctor['id']}", headers=env.admin),
        *(book(env, p["id"], doctor["id"], at(9 + i)) for i, p in enumerate(patients)),
    )

    booked = [r for r in bookings if r.status_code == 201]
    if removal.status_code == 204:
        assert booked == []
        assert {r.json()["code"] for r in bookings} == {"PRACTITIONER_NOT_FOUND"}
    else:
        assert_problem(removal, 409, "PRACTITIONER_HAS_APPOINTMENTS")
        assert booked
    assert await env.count("appointments") == len(booked)


async def test_deleting_a_patient_while_they_are_being_booked_never_strands_an_appointment(env):
    patient = await make_patient(env)
    doctors = [await make_practitioner(env) for _ in range(6)]
    await env.warm_pool()

    removal, *bookings = await asyncio.gather(
        env.client.delete(f"/api/v1/patients/{patient['id']}", headers=env.admin),
        *(book(env, patient["id"], d["id"], at(9 + i)) for i, d in enumerate(doctors)),
    )

    booked = [r for r in bookings if r.status_code == 201]
    if removal.status_code == 204:
        assert booked == []
        assert {r.json()["code"] for r in bookings} == {"PATIENT_NOT_FOUND"}
    else:
        assert_problem(removal, 409, "PATIENT_HAS_APPOINTMENTS")
        assert booked
    assert await env.count("appointments") == len(booked)
