"""Reading messages (with row scoping and audit) and sending them by hand."""

from __future__ import annotations

import pytest

from tests.builders.notifications import (
    URL,
    assert_problem,
    lab_result_ready,
    list_notifications,
    make_notification,
    publish,
    send,
)
from tests.builders.patients import make_patient
from tests.builders.scheduling import at
from tests.notifications.helpers import dispatcher

MISSING = "00000000-0000-4000-8000-000000000000"


async def snapshot(env) -> dict:
    """What a refused request must leave as it was."""
    return {"notifications": await env.count("notifications"), "audit": await env.count("audit_events")}


# --- sending by hand -----------------------------------------------------------------------------


async def test_a_message_to_an_address_is_queued(env):
    response = await send(env)

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"{URL}/{body['id']}"
    assert {k: body[k] for k in ("channel", "recipient", "recipient_id", "template", "subject", "body")} == {
        "channel": "email",
        "recipient": "ward-7@clinic.example.org",
        "recipient_id": None,
        "template": None,
        "subject": "Visiting hours",
        "body": "Visiting hours change on Monday.",
    }
    assert (body["status"], body["attempts"], body["source_event_id"]) == ("queued", 0, None)
    assert (body["next_attempt_at"], body["created_at"], body["sent_at"]) == (at(6), at(6), None)
    assert await env.count("audit_events", "action = 'notification.send' AND entity_id = :id", id=body["id"]) == 1

    assert await dispatcher(env).run_once() == 1
    sent = (await env.client.get(f"{URL}/{body['id']}", headers=env.admin)).json()
    assert (sent["status"], sent["attempts"], sent["sent_at"]) == ("sent", 1, at(6))


@pytest.mark.parametrize(
    ("channel", "subject", "address"), [("email", "Hello", "ravi.k@example.org"), ("sms", None, "+919800011122")]
)
async def test_a_message_to_a_patient_uses_their_contact(env, channel, subject, address):
    patient = await make_patient(env, email="ravi.k@example.org", phone="+919800011122")

    body = await make_notification(env, recipient=None, recipient_id=patient["id"], channel=channel, subject=subject)

    assert (body["recipient"], body["recipient_id"], body["channel"]) == (address, patient["id"], channel)
    assert body["subject"] == subject


async def test_a_message_from_a_template_is_rendered_for_the_patient(env):
    patient = await make_patient(env, first_name="Ravi")

    body = await make_notification(
        env,
        recipient=None,
        recipient_id=patient["id"],
        channel=None,
        subject=None,
        body=None,
        template="order_failed.email",
        data={"order_id": "ORD-1", "failure_reason": "no lab slot is free this week"},
    )

    assert (body["channel"], body["template"]) == ("email", "order_failed.email")
    assert body["subject"] == "Your order could not be completed"
    assert body["body"].startswith(
        "Dear Ravi,\n\nyour order could not be completed because no lab slot is free this week.\n"
    )


async def test_a_template_to_an_address_takes_every_variable_from_data(env):
    body = await make_notification(
        env,
        recipient="+91 98000 11122",
        channel="sms",
        subject=None,
        body=None,
        template="lab_result_ready.sms",
        data={"first_name": "Ward 7"},
    )
    assert (body["recipient"], body["channel"]) == ("+919800011122", "sms")
    assert body["body"] == "caremesh: Ward 7, your lab results are ready. Sign in or ask your care team."


def templated(**overrides) -> dict:
    return {"channel": None, "subject": None, "body": None, "template": "order_failed.email", **overrides}


@pytest.mark.parametrize(
    ("overrides", "status", "code", "loc"),
    [
        (templated(data={"order_id": "1"}), 422, "INVALID_TEMPLATE_DATA", ["data"]),
        (templated(template="order_failed.fax"), 404, "TEMPLATE_NOT_FOUND", None),
        (
            templated(channel="sms", data={"first_name": "A", "failure_reason": None}),
            422,
            "VALIDATION_ERROR",
            ["channel"],
        ),
        ({"recipient": "not-an-email"}, 422, "VALIDATION_ERROR", ["recipient"]),
        ({"recipient": "call me maybe", "channel": "sms", "subject": None}, 422, "VALIDATION_ERROR", ["recipient"]),
        ({"recipient": None, "recipient_id": MISSING}, 404, "PATIENT_NOT_FOUND", None),
    ],
)
async def test_sends_the_server_refuses_change_nothing(env, overrides, status, code, loc):
    before = await snapshot(env)
    problem = assert_problem(await send(env, **overrides), status, code)
    if loc:
        assert problem["errors"][0]["loc"] == loc
    assert await snapshot(env) == before


async def test_a_patient_without_the_channels_contact_cannot_be_sent_to(env):
    patient = await make_patient(env, phone=None)
    before = await snapshot(env)
    problem = assert_problem(
        await send(env, recipient=None, recipient_id=patient["id"], channel="sms", subject=None),
        422,
        "NO_CONTACT_ADDRESS",
    )
    assert problem["errors"] == [{"loc": ["recipient_id"], "msg": "the patient has no phone number"}]
    assert await snapshot(env) == before


async def test_a_deleted_patient_cannot_be_sent_to(env):
    patient = await make_patient(env)
    assert (await env.client.delete(f"/api/v1/patients/{patient['id']}", headers=env.admin)).status_code == 204
    assert_problem(await send(env, recipient=None, recipient_id=patient["id"]), 404, "PATIENT_NOT_FOUND")


@pytest.mark.parametrize(
    "overrides",
    [
        {"recipient_id": MISSING},  # and recipient: one or the other
        {"recipient": None},  # neither
        {"template": "order_failed.email"},  # body and template
        {"channel": None},  # body without channel
        {"subject": None},  # email without subject
        {"channel": "sms"},  # sms with subject
        {"data": {"first_name": "A"}},  # data without template
        {"channel": None, "body": None, "template": "order_failed.email"},  # template with a subject
        {"channel": "fax"},
        {"body": ""},
        {"body": "x" * 10_001},
        {"body": "a\x00b"},
        {"subject": "x" * 201},
        {"priority": "high"},
        {"recipient_id": "42", "recipient": None},
        {"channel": None, "subject": None, "body": None, "template": "order_failed.email", "data": {"a": {"b": 1}}},
    ],
)
async def test_malformed_sends_are_refused_and_change_nothing(env, overrides):
    before = await snapshot(env)
    assert_problem(await send(env, **overrides), 422, "VALIDATION_ERROR")
    assert await snapshot(env) == before


@pytest.mark.parametrize(
    "subject",
    [
        "Visiting hours\r\nBcc: everyone@example.org",
        "Visiting\nhours",
        "Visiting\thours",
        "Visiting\x85hours",
        "A\u2028B",
    ],
)
async def test_a_written_subject_is_one_line_without_control_characters(env, subject):
    """Rendered subjects are folded to one line; a written one with a line break or control character is
    refused, rather than stored and then failing at the mail library on every attempt."""
    before = await snapshot(env)
    problem = assert_problem(await send(env, subject=subject), 422, "VALIDATION_ERROR")
    assert problem["errors"][0]["loc"][-1] == "subject"
    assert await snapshot(env) == before


# --- reading -------------------------------------------------------------------------------------


async def test_a_message_is_read_and_the_read_is_audited(env):
    message = await make_notification(env)

    response = await env.client.get(f"{URL}/{message['id']}", headers=env.admin)

    assert response.status_code == 200, response.text
    assert response.json() == message
    assert await env.count("audit_events", "action = 'notification.read' AND entity_id = :id", id=message["id"]) == 1


async def test_an_unknown_message_is_not_found(env):
    assert_problem(await env.client.get(f"{URL}/{MISSING}", headers=env.admin), 404, "NOTIFICATION_NOT_FOUND")


async def test_lists_filter_page_and_audit_every_row(env):
    patient, other = await make_patient(env), await make_patient(env)
    event = await publish(env, "lab.result_ready", lab_result_ready(patient["id"]))
    await publish(env, "lab.result_ready", lab_result_ready(other["id"]))
    await env.drain()
    manual = await make_notification(env)  # queued: the dispatcher has not run since

    assert len(await list_notifications(env)) == 5
    assert {m["recipient_id"] for m in await list_notifications(env, recipient_id=patient["id"])} == {patient["id"]}
    assert [m["id"] for m in await list_notifications(env, status="queued")] == [manual["id"]]
    assert len(await list_notifications(env, status="sent")) == 4
    assert len(await list_notifications(env, channel="sms")) == 2
    assert len(await list_notifications(env, source_event_id=event.id)) == 2

    audit_before = await env.count("audit_events", "action = 'notification.list_read'")
    first = await env.client.get(URL, params={"limit": 2}, headers=env.admin)
    page = first.json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    rest = await list_notifications(env, cursor=page["next_cursor"])
    assert [m["id"] for m in page["items"] + rest] == [m["id"] for m in await list_notifications(env)]
    assert await env.count("audit_events", "action = 'notification.list_read'") - audit_before == 2 + 3 + 5
    assert await env.count("audit_events", "action = 'notification.list'") >= 3


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"status": "bounced"}, "VALIDATION_ERROR"),
        ({"channel": "fax"}, "VALIDATION_ERROR"),
        ({"recipient_id": "42"}, "VALIDATION_ERROR"),
        ({"limit": 201}, "VALIDATION_ERROR"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "INVALID_CURSOR"),
    ],
)
async def test_bad_list_queries_are_problems(env, params, code):
    assert_problem(await env.client.get(URL, params=params, headers=env.admin), 422, code)


# --- who may do what -----------------------------------------------------------------------------


@pytest.fixture
async def two_patients(env):
    """Messages to two patients; the first has a patient-role login."""
    mine, theirs = await make_patient(env), await make_patient(env)
    for patient in (mine, theirs):
        await publish(env, "lab.result_ready", lab_result_ready(patient["id"]))
    await make_notification(env)  # to a bare address: nobody's patient record
    await env.drain()
    headers = await env.user(["patient"], patient_id=mine["id"])
    return mine, theirs, headers


async def test_a_patient_sees_only_their_own_messages(env, two_patients):
    mine, theirs, headers = two_patients

    listed = await list_notifications(env, headers=headers)
    assert len(listed) == 2
    assert {m["recipient_id"] for m in listed} == {mine["id"]}
    assert await list_notifications(env, headers=headers, recipient_id=theirs["id"]) == []

    [their_message, *_] = await list_notifications(env, recipient_id=theirs["id"])
    assert (await env.client.get(f"{URL}/{listed[0]['id']}", headers=headers)).status_code == 200
    response = await env.client.get(f"{URL}/{their_message['id']}", headers=headers)
    assert_problem(response, 404, "NOTIFICATION_NOT_FOUND")
    assert their_message["recipient"] not in response.text


async def test_a_patient_cannot_send(env, two_patients):
    mine, _, headers = two_patients
    before = await snapshot(env)
    assert_problem(await send(env, headers, recipient=None, recipient_id=mine["id"]), 403, "FORBIDDEN")
    assert await snapshot(env) == before


async def test_a_receptionist_reads_every_message_but_sends_none(env, two_patients):
    headers = await env.user(["receptionist"])
    assert len(await list_notifications(env, headers=headers)) == 5
    assert_problem(await send(env, headers), 403, "FORBIDDEN")


@pytest.mark.parametrize("role", ["doctor", "nurse", "billing_clerk"])
async def test_other_staff_read_no_messages(env, role):
    message = await make_notification(env)
    headers = await env.user([role])
    assert_problem(await env.client.get(URL, headers=headers), 403, "FORBIDDEN")
    assert_problem(await env.client.get(f"{URL}/{message['id']}", headers=headers), 403, "FORBIDDEN")
    assert_problem(await send(env, headers), 403, "FORBIDDEN")
