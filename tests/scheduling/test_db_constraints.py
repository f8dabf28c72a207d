"""The overlap invariant holds in the database itself, for writes that bypass the service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from caremesh.scheduling.models import Appointment
from tests.builders.scheduling import DAY0

PRACTITIONER_OVERLAP = "ex_appointments_practitioner_overlap"
PATIENT_OVERLAP = "ex_appointments_patient_overlap"
DOCTOR, OTHER_DOCTOR = uuid.uuid4(), uuid.uuid4()
PATIENT, OTHER_PATIENT = uuid.uuid4(), uuid.uuid4()
_serial = iter(range(1, 10_000))


def nine(minute: int = 0) -> datetime:
    return datetime(DAY0.year, DAY0.month, DAY0.day, 9, tzinfo=UTC) + timedelta(minutes=minute)


def row(*, practitioner_id=DOCTOR, patient_id=PATIENT, start=None, minutes=30, status="scheduled") -> dict:
    start = start or nine()
    return {
        "id": uuid.uuid4(),
        "number": f"RAW-{next(_serial):06d}",
        "patient_id": patient_id,
        "practitioner_id": practitioner_id,
        "start_at": start,
        "end_at": start + timedelta(minutes=minutes),
        "duration_minutes": minutes,
        "status": status,
        "specialty": "cardiology",
        "version": 1,
        "created_at": start,
        "updated_at": start,
    }


async def insert_raw(env, values: dict) -> None:
    async with env.db.engine.begin() as connection:
        await connection.execute(insert(Appointment.__table__).values(**values))


async def refused(env, write, constraint: str) -> None:
    before = await env.count("appointments")
    with pytest.raises(IntegrityError) as caught:
        await write
    assert constraint in str(caught.value)
    assert await env.count("appointments") == before


async def test_an_overlapping_row_for_the_practitioner_is_refused(env):
    await insert_raw(env, row())
    await refused(env, insert_raw(env, row(patient_id=OTHER_PATIENT, start=nine(15))), PRACTITIONER_OVERLAP)


async def test_an_overlapping_row_for_the_patient_is_refused(env):
    await insert_raw(env, row())
    await refused(env, insert_raw(env, row(practitioner_id=OTHER_DOCTOR, start=nine(-15))), PATIENT_OVERLAP)


async def test_an_identical_row_is_refused(env):
    await insert_raw(env, row())
    await refused(env, insert_raw(env, row()), "_overlap")


async def test_back_to_back_and_other_parties_rows_are_accepted(env):
    await insert_raw(env, row())
    await insert_raw(env, row(start=nine(30)))
    await insert_raw(env, row(start=nine(-30)))
    await insert_raw(env, row(practitioner_id=OTHER_DOCTOR, patient_id=OTHER_PATIENT))
    assert await env.count("appointments") == 4


async def test_cancelled_rows_neither_block_nor_are_blocked(env):
    await insert_raw(env, row(status="cancelled"))
    await insert_raw(env, row())
    await insert_raw(env, row(status="cancelled"))
    assert await env.count("appointments") == 3


async def test_moving_a_row_onto_another_is_refused(env):
    first, second = row(), row(patient_id=OTHER_PATIENT, start=nine(60))
    await insert_raw(env, first)
    await insert_raw(env, second)

    async def move() -> None:
        async with env.db.engine.begin() as connection:
            await connection.execute(
                update(Appointment.__table__)
                .where(Appointment.id == second["id"])
                .values(start_at=nine(20), end_at=nine(50))
            )

    await refused(env, move(), PRACTITIONER_OVERLAP)


async def test_a_row_may_move_within_its_own_slot(env):
    first = row()
    await insert_raw(env, first)
    async with env.db.engine.begin() as connection:
        await connection.execute(
            update(Appointment.__table__)
            .where(Appointment.id == first["id"])
            .values(start_at=nine(10), end_at=nine(40))
        )


async def test_reviving_a_cancelled_row_into_a_taken_slot_is_refused(env):
    cancelled = row(status="cancelled")
    await insert_raw(env, cancelled)
    await insert_raw(env, row(patient_id=OTHER_PATIENT))

    async def revive() -> None:
        async with env.db.engine.begin() as connection:
            await connection.execute(
                update(Appointment.__table__).where(Appointment.id == cancelled["id"]).values(status="scheduled")
            )

    await refused(env, revive(), PRACTITIONER_OVERLAP)


async def test_handing_a_row_to_a_busy_practitioner_is_refused(env):
    await insert_raw(env, row(practitioner_id=OTHER_DOCTOR, patient_id=OTHER_PATIENT))
    mine = row()
    await insert_raw(env, mine)

    async def reassign() -> None:
        async with env.db.engine.begin() as connection:
            await connection.execute(
                update(Appointment.__table__).where(Appointment.id == mine["id"]).values(practitioner_id=OTHER_DOCTOR)
            )

    await refused(env, reassign(), PRACTITIONER_OVERLAP)
