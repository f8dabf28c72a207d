"""Appointment: read and search (patient, practitioner, date), statuses in FHIR's terms, patient scoping, audit."""

from __future__ import annotations

import pytest

from caremesh.fhir.administrative import APPOINTMENT_STATUS
from caremesh.scheduling.contract import AppointmentStatus
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import at, make_appointment
from tests.fhir.fhir_client import FHIR, assert_outcome, audited, read, resources, search, search_all


def test_every_appointment_status_has_its_fhir_status():
    assert set(APPOINTMENT_STATUS) == {status.value for status in AppointmentStatus}
    assert APPOINTMENT_STATUS == {
        "scheduled": "booked",
        "checked_in": "checked-in",
        "completed": "fulfilled",
        "cancelled": "cancelled",
        "no_show": "noshow",
    }


@pytest.fixture
async def visits(env):
    patient, other = await make_patient(env), await make_patient(env)
    doctor, colleague = await make_practitioner(env), await make_practitioner(env)
    first = await make_appointment(
        env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9), reason="Chest pain"
    )
    second = await make_appointment(
        env, patient_id=patient["id"], practitioner_id=colleague["id"], start=at(10, days=1)
    )
    theirs = await make_appointment(env, patient_id=other["id"], practitioner_id=doctor["id"], start=at(11))
    return env, patient, other, doctor, first, second, theirs


async def test_an_appointment_reads_with_its_participants_and_times(visits):
    env, patient, _, doctor, first, *_ = visits

    resource = await read(env, f"Appointment/{first['id']}")

    assert resource["status"] == "booked"
    assert (resource["start"], resource["end"], resource["minutesDuration"]) == (
        "2030-01-07T09:00:00Z",
        "2030-01-07T09:30:00Z",
        30,
    )
    assert [p["actor"]["reference"] for p in resource["participant"]] == [
        f"Patient/{patient['id']}",
        f"Practitioner/{doctor['id']}",
    ]
    assert resource["description"] == "Chest pain"
    assert resource["identifier"][0]["value"] == first["number"]


async def test_a_cancelled_appointment_is_cancelled_with_its_reason(visits):
    env, *_, theirs = visits
    cancelled = await env.client.post(
        f"/api/v1/appointments/{theirs['id']}/cancel", json={"reason": "Travelling"}, headers=env.admin
    )
    assert cancelled.status_code == 200, cancelled.text

    resource = await read(env, f"Appointment/{theirs['id']}")

    assert (resource["status"], resource["cancelationReason"]) == ("cancelled", {"text": "Travelling"})


async def test_search_by_patient_practitioner_and_day(visits):
    env, patient, _, doctor, first, second, theirs = visits

    def ids(bundle):
        return [a["id"] for a in resources(bundle)]

    assert ids(await search(env, "Appointment", patient=f"Patient/{patient['id']}")) == [first["id"], second["id"]]
    assert ids(await search(env, "Appointment", practitioner=doctor["id"])) == [first["id"], theirs["id"]]
    assert ids(await search(env, "Appointment", date="2030-01-08")) == [second["id"]]
    assert ids(await search(env, "Appointment", patient=patient["id"], date="2030-01-07")) == [first["id"]]
    assert ids(await search(env, "Appointment", patient=f"Practitioner/{doctor['id']}")) == []
    assert ids(await search(env, "Appointment", patient="not-an-id")) == []
    every, pages = await search_all(env, "Appointment", _count=2)
    assert ([a["id"] for a in every], pages) == ([first["id"], theirs["id"], second["id"]], 2)


async def test_a_patient_sees_only_their_own_appointments(visits):
    env, patient, other, _, first, second, theirs = visits
    headers = await env.user(roles=["patient"], patient_id=patient["id"])

    assert (await read(env, f"Appointment/{first['id']}", headers))["id"] == first["id"]
    response = await env.client.get(f"{FHIR}/Appointment/{theirs['id']}", headers=headers)
    assert_outcome(response, 404, "not-found", "APPOINTMENT_NOT_FOUND")
    mine = resources(await search(env, "Appointment", headers))
    assert [a["id"] for a in mine] == [first["id"], second["id"]]
    assert resources(await search(env, "Appointment", headers, patient=other["id"])) == []


async def test_appointment_reads_and_searches_are_audited(visits):
    env, patient, *_, first, second, _theirs = visits

    await read(env, f"Appointment/{first['id']}")
    await search(env, "Appointment", patient=patient["id"])

    assert await audited(env, "appointment.read", first["id"]) == 1
    assert await audited(env, "appointment.list_read", second["id"]) == 1
