"""A patient-role user books, sees, cancels and moves only their own appointments; others do not exist."""

from __future__ import annotations

import pytest

from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import assert_problem, at, book, make_appointment, snapshot

URL = "/api/v1/appointments"
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def world(env):
    doctor = await make_practitioner(env)
    me, stranger = await make_patient(env), await make_patient(env)
    headers = await env.user(["patient"], patient_id=me["id"])
    theirs = await make_appointment(env, patient_id=stranger["id"], practitioner_id=doctor["id"], start=at(9))
    return doctor, me, headers, theirs


async def test_a_patient_books_for_themselves(env, world):
    doctor, me, headers, _ = world
    response = await book(env, me["id"], doctor["id"], at(10), headers)
    assert response.status_code == 201, response.text
    assert response.json()["patient_id"] == me["id"]


@pytest.mark.parametrize("whom", ["stranger", "missing"])
async def test_booking_for_anyone_else_is_as_if_they_did_not_exist(env, world, whom):
    doctor, _, headers, theirs = world
    patient_id = theirs["patient_id"] if whom == "stranger" else MISSING
    before = await snapshot(env)
    assert_problem(await book(env, patient_id, doctor["id"], at(11), headers), 404, "PATIENT_NOT_FOUND")
    assert await snapshot(env) == before


async def test_a_patient_sees_only_their_own_appointments(env, world):
    doctor, me, headers, theirs = world
    mine = await make_appointment(env, patient_id=me["id"], practitioner_id=doctor["id"], start=at(10))

    assert (await env.client.get(f"{URL}/{mine['id']}", headers=headers)).status_code == 200
    assert_problem(await env.client.get(f"{URL}/{theirs['id']}", headers=headers), 404, "APPOINTMENT_NOT_FOUND")

    listed = (await env.client.get(URL, headers=headers)).json()["items"]
    assert [a["id"] for a in listed] == [mine["id"]]
    spying = await env.client.get(URL, params={"patient_id": theirs["patient_id"]}, headers=headers)
    assert spying.json()["items"] == []


@pytest.mark.parametrize(("action", "body"), [("cancel", None), ("reschedule", {"start": at(15)})])
async def test_a_patient_cancels_and_moves_only_their_own(env, world, action, body):
    doctor, me, headers, theirs = world
    mine = await make_appointment(env, patient_id=me["id"], practitioner_id=doctor["id"], start=at(10))
    before = await snapshot(env)

    response = await env.client.post(f"{URL}/{theirs['id']}/{action}", json=body, headers=headers)
    assert_problem(response, 404, "APPOINTMENT_NOT_FOUND")
    assert await snapshot(env) == before

    response = await env.client.post(f"{URL}/{mine['id']}/{action}", json=body, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("action", ["check-in", "complete", "no-show"])
async def test_a_patient_runs_no_visit(env, world, action):
    doctor, me, headers, _ = world
    mine = await make_appointment(env, patient_id=me["id"], practitioner_id=doctor["id"], start=at(10))
    assert_problem(await env.client.post(f"{URL}/{mine['id']}/{action}", headers=headers), 403, "FORBIDDEN")
