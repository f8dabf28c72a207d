from __future__ import annotations

import pytest

from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import assert_problem, at, make_appointment, outbox_payloads, snapshot, travel

URL = "/api/v1/appointments"


@pytest.fixture
async def appointment(env):
    """A 30-minute appointment at 10:00; the clock is at 06:00."""
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    return await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(10))


async def act(env, appointment_id, action, body=None, headers=None):
    return await env.client.post(f"{URL}/{appointment_id}/{action}", json=body, headers=headers or env.admin)


async def ok(env, appointment_id, action, body=None, headers=None) -> dict:
    response = await act(env, appointment_id, action, body, headers)
    assert response.status_code == 200, response.text
    return response.json()


# --- each transition -------------------------------------------------------


async def test_check_in(env, appointment):
    await travel(env, at(9, 50))
    response = await act(env, appointment["id"], "check-in")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "checked_in"
    assert body["checked_in_at"] == at(9, 50)
    assert body["version"] == 2
    assert body["updated_at"] == at(9, 50)
    assert response.headers["ETag"] == '"2"'
    assert (await outbox_payloads(env, "appointment.checked_in"))[0]["checked_in_at"] == at(9, 50)
    assert await env.count("audit_events", "action = 'appointment.check_in'") == 1


async def test_complete_after_check_in_starts_at_check_in(env, appointment):
    await travel(env, at(9, 50))
    await ok(env, appointment["id"], "check-in")
    await travel(env, at(10, 25))
    body = await ok(env, appointment["id"], "complete")
    assert body["status"] == "completed"
    assert (body["started_at"], body["ended_at"], body["completed_at"]) == (at(9, 50), at(10, 25), at(10, 25))
    assert body["version"] == 3
    payload = (await outbox_payloads(env, "appointment.completed"))[0]
    assert (payload["started_at"], payload["ended_at"], payload["status"]) == (at(9, 50), at(10, 25), "completed")


async def test_complete_without_check_in_starts_at_the_scheduled_start(env, appointment):
    await travel(env, at(10, 40))
    body = await ok(env, appointment["id"], "complete")
    assert (body["started_at"], body["ended_at"], body["checked_in_at"]) == (at(10), at(10, 40), None)


async def test_complete_before_the_scheduled_start_lasts_the_booked_duration(env, appointment):
    await travel(env, at(9, 15))  # the patient was seen early and never checked in
    body = await ok(env, appointment["id"], "complete")
    assert (body["started_at"], body["ended_at"]) == (at(8, 45), at(9, 15))


async def test_complete_keeps_the_times_given(env, appointment):
    await travel(env, at(11))
    body = await ok(env, appointment["id"], "complete", {"started_at": at(10, 5), "ended_at": "2030-01-07T10:35:00"})
    assert (body["started_at"], body["ended_at"], body["completed_at"]) == (at(10, 5), at(10, 35), at(11))


async def test_complete_with_only_an_end_given(env, appointment):
    await travel(env, at(11))
    body = await ok(env, appointment["id"], "complete", {"ended_at": at(10, 20)})
    assert (body["started_at"], body["ended_at"]) == (at(10), at(10, 20))


@pytest.mark.parametrize(
    ("times", "field"),
    [
        ({"started_at": at(10, 30), "ended_at": at(10, 10)}, "started_at"),
        ({"ended_at": at(11, 1)}, "ended_at"),
        ({"started_at": at(11, 30)}, "started_at"),  # after the default end, now
    ],
)
async def test_impossible_visit_times_are_refused_and_change_nothing(env, appointment, times, field):
    await travel(env, at(11))
    before = await snapshot(env)
    body = assert_problem(await act(env, appointment["id"], "complete", times), 422, "INVALID_VISIT_TIMES")
    assert body["errors"][0]["loc"] == [field]
    assert await snapshot(env) == before
    current = (await env.client.get(f"{URL}/{appointment['id']}", headers=env.admin)).json()
    assert current["status"] == "scheduled"


async def test_a_check_in_after_the_given_end_is_impossible(env, appointment):
    await travel(env, at(10))
    await ok(env, appointment["id"], "check-in")
    await travel(env, at(10, 30))
    assert_problem(await act(env, appointment["id"], "complete", {"ended_at": at(9, 55)}), 422, "INVALID_VISIT_TIMES")


@pytest.mark.parametrize("body", [{"started_at": "soon"}, {"ended_at": "2030-13-01T00:00:00Z"}, {"notes": "x"}, []])
async def test_malformed_completion_is_a_problem(env, appointment, body):
    await travel(env, at(11))
    assert_problem(await act(env, appointment["id"], "complete", body), 422, "VALIDATION_ERROR")


async def test_cancel_with_and_without_a_reason(env, appointment):
    body = await ok(env, appointment["id"], "cancel", {"reason": "  Feeling better  "})
    assert body["status"] == "cancelled"
    assert body["cancelled_at"] == at(6)
    assert body["cancellation_reason"] == "Feeling better"
    assert (await outbox_payloads(env, "appointment.cancelled"))[0]["reason"] == "Feeling better"

    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    other = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(10))
    assert (await ok(env, other["id"], "cancel"))["cancellation_reason"] is None


async def test_a_checked_in_appointment_can_be_cancelled(env, appointment):
    await ok(env, appointment["id"], "check-in")
    assert (await ok(env, appointment["id"], "cancel"))["status"] == "cancelled"


async def test_no_show_only_once_the_start_has_come(env, appointment):
    await travel(env, at(9, 59))
    body = assert_problem(await act(env, appointment["id"], "no-show"), 409, "INVALID_STATUS_TRANSITION")
    assert "start" in body["detail"]
    await travel(env, at(10))
    assert (await ok(env, appointment["id"], "no-show"))["status"] == "no_show"


# --- the whole table -------------------------------------------------------

ACTIONS = ["check-in", "complete", "cancel", "no-show", "reschedule"]
ALLOWED = {
    ("scheduled", "check-in"),
    ("scheduled", "complete"),
    ("scheduled", "cancel"),
    ("scheduled", "no-show"),
    ("scheduled", "reschedule"),
    ("checked_in", "complete"),
    ("checked_in", "cancel"),
}
REACH = {"scheduled": [], "checked_in": ["check-in"], "completed": ["complete"], "cancelled": ["cancel"]}
REACH["no_show"] = ["no-show"]


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("status", list(REACH))
async def test_transition_table(env, appointment, status, action):
    await travel(env, at(10, 5))  # past the start, so no-show is possible
    for step in REACH[status]:
        await ok(env, appointment["id"], step)
    current = (await env.client.get(f"{URL}/{appointment['id']}", headers=env.admin)).json()
    assert current["status"] == status

    body = {"start": at(11, days=1)} if action == "reschedule" else None
    before = await snapshot(env)
    response = await act(env, appointment["id"], action, body)

    if (status, action) in ALLOWED:
        assert response.status_code == 200, response.text
        assert response.json()["version"] == current["version"] + 1
    else:
        assert_problem(response, 409, "INVALID_STATUS_TRANSITION")
        assert await snapshot(env) == before


# --- concurrency, permissions, events --------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
async def test_a_stale_if_match_is_refused(env, appointment, action):
    await travel(env, at(10, 5))
    body = {"start": at(11, days=1)} if action == "reschedule" else None
    before = await snapshot(env)
    response = await act(env, appointment["id"], action, body, {**env.admin, "If-Match": '"2"'})
    assert_problem(response, 412, "VERSION_CONFLICT")
    assert await snapshot(env) == before
    matching = await act(env, appointment["id"], action, body, {**env.admin, "If-Match": 'W/"1"'})
    assert matching.status_code == 200, matching.text
    assert matching.headers["ETag"] == '"2"'


async def test_if_match_must_be_an_etag_of_this_api(env, appointment):
    response = await act(env, appointment["id"], "check-in", headers={**env.admin, "If-Match": "yesterday"})
    assert_problem(response, 412, "VERSION_CONFLICT")
    response = await act(env, appointment["id"], "check-in", headers={**env.admin, "If-Match": "*"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("roles", "action", "allowed"),
    [
        (["nurse"], "check-in", True),
        (["nurse"], "complete", False),
        (["nurse"], "cancel", False),
        (["doctor"], "complete", True),
        (["doctor"], "no-show", True),
        (["doctor"], "cancel", False),
        (["doctor"], "reschedule", False),
        (["receptionist"], "complete", False),
        (["receptionist"], "cancel", True),
        (["receptionist"], "reschedule", True),
        (["billing_clerk"], "check-in", False),
    ],
)
async def test_who_may_do_what(env, appointment, roles, action, allowed):
    await travel(env, at(10, 5))
    headers = await env.user(roles)
    body = {"start": at(11, days=1)} if action == "reschedule" else None
    response = await act(env, appointment["id"], action, body, headers)
    if allowed:
        assert response.status_code == 200, response.text
    else:
        assert_problem(response, 403, "FORBIDDEN")


async def test_unknown_appointments_are_not_found(env):
    missing = "00000000-0000-4000-8000-000000000000"
    for action in ACTIONS:
        body = {"start": at(11, days=1)} if action == "reschedule" else None
        assert_problem(await act(env, missing, action, body), 404, "APPOINTMENT_NOT_FOUND")


async def test_every_state_change_is_an_event(env, appointment):
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    second = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(10))
    third = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(11))
    await ok(env, appointment["id"], "reschedule", {"start": at(12)})
    await ok(env, appointment["id"], "check-in")
    await travel(env, at(12, 30))
    await ok(env, appointment["id"], "complete")
    await ok(env, second["id"], "no-show")
    await ok(env, third["id"], "cancel")

    events = [t for t in await env.outbox_types() if t.startswith("appointment.")]
    assert events == [
        "appointment.booked",
        "appointment.booked",
        "appointment.booked",
        "appointment.rescheduled",
        "appointment.checked_in",
        "appointment.completed",
        "appointment.no_show",
        "appointment.cancelled",
    ]
    for event_type in set(events):
        for payload in await outbox_payloads(env, event_type):
            assert {
                "appointment_id",
                "number",
                "patient_id",
                "practitioner_id",
                "specialty",
                "start",
                "end",
                "duration_minutes",
                "status",
            } <= set(payload)
