"""Each event a patient hears about becomes one message per channel they can be reached on."""

from __future__ import annotations

import uuid

import pytest

from caremesh.notifications import triggers
from tests.builders import notifications as build
from tests.builders.notifications import event_ids, list_notifications, messages_of, publish
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import at, make_appointment


@pytest.fixture
async def patient(env):
    return await make_patient(env, first_name="Ravi", email="ravi.k@example.org", phone="+919800011122")


async def test_a_booking_makes_an_email_and_an_sms_with_the_rendered_text(env, patient):
    doctor = await make_practitioner(env, specialty="general_practice")
    appointment = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9))

    await env.drain()

    [event_id] = await event_ids(env, "appointment.booked")
    messages = {m["channel"]: m for m in await list_notifications(env, recipient_id=patient["id"])}
    assert set(messages) == {"email", "sms"}
    email, sms = messages["email"], messages["sms"]
    assert email["recipient"] == "ravi.k@example.org"
    assert email["template"] == "appointment_booked.email"
    assert email["subject"] == f"Your appointment {appointment['number']} is booked"
    assert email["body"] == (
        "Dear Ravi,\n\n"
        f"your general practice appointment {appointment['number']} is booked for "
        "Monday 7 January 2030, 09:00 UTC (30 minutes).\n"
        "If you cannot come, please cancel or reschedule it in good time.\n\ncaremesh\n"
    )
    assert sms["recipient"] == "+919800011122"
    assert sms["template"] == "appointment_booked.sms"
    assert sms["subject"] is None
    assert sms["body"] == (
        f"caremesh: Ravi, your appointment {appointment['number']} is booked for Monday 7 January 2030, 09:00 UTC."
    )
    for message in (email, sms):
        assert message["recipient_id"] == patient["id"]
        assert message["source_event_id"] == event_id
        # No SMTP or webhook is configured: the log channel delivers at once.
        assert (message["status"], message["attempts"], message["sent_at"]) == ("sent", 1, at(6))
        assert (message["last_error"], message["next_attempt_at"]) == (None, None)


async def test_a_cancellation_makes_its_own_messages(env, patient):
    doctor = await make_practitioner(env)
    appointment = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(10))
    response = await env.client.post(f"/api/v1/appointments/{appointment['id']}/cancel", headers=env.admin)
    assert response.status_code == 200, response.text

    await env.drain()

    [cancelled] = await event_ids(env, "appointment.cancelled")
    messages = await list_notifications(env, source_event_id=cancelled)
    assert sorted(m["channel"] for m in messages) == ["email", "sms"]
    email = next(m for m in messages if m["channel"] == "email")
    assert email["subject"] == f"Your appointment {appointment['number']} is cancelled"
    assert "cardiology appointment" in email["body"]
    assert "on Monday 7 January 2030, 10:00 UTC is cancelled." in email["body"]
    assert len(await list_notifications(env, recipient_id=patient["id"])) == 4  # booked and cancelled


PUBLISHED = [
    (
        "invoice.issued",
        build.invoice_issued,
        "Invoice INV-2030-000007: INR 1596.00 to pay",
        ["Total INR 1596.00, of which your insurance pays INR 0.00.", "Your share is INR 1596.00; INR 1596.00 is due."],
        "caremesh: Ravi, invoice INV-2030-000007 is issued; INR 1596.00 is due.",
    ),
    (
        "payment.completed",
        build.payment_completed,
        "Receipt PAY-2030-000003 for invoice INV-2030-000007",
        ["payment PAY-2030-000003 of INR 596.00 by bank transfer", "Balance still due: INR 1000.00."],
        "caremesh: Ravi, payment PAY-2030-000003 of INR 596.00 received. Thank you.",
    ),
    (
        "payment.failed",
        build.payment_failed,
        "Your payment for invoice INV-2030-000007 did not go through",
        ["did not go through (card declined).", "Nothing was charged."],
        "caremesh: Ravi, your payment of INR 596.00 did not go through. Nothing was charged.",
    ),
    (
        "order.failed",
        build.order_failed,
        "Your order could not be completed",
        ["your order could not be completed because a medication is out of stock."],
        "caremesh: Ravi, your order could not be completed. Your care team will contact you.",
    ),
    (
        "lab.result_ready",
        build.lab_result_ready,
        "Your lab results are ready",
        ["your lab results are ready."],
        "caremesh: Ravi, your lab results are ready. Sign in or ask your care team.",
    ),
]


@pytest.mark.parametrize(("event_type", "payload", "subject", "email_lines", "sms_body"), PUBLISHED)
async def test_each_event_makes_one_email_and_one_sms(
    env, patient, event_type, payload, subject, email_lines, sms_body
):
    event = await publish(env, event_type, payload(patient["id"]))

    await env.drain()

    messages = await messages_of(env, event)
    assert set(messages) == {"email", "sms"}
    code = event_type.replace(".", "_")
    email, sms = messages["email"], messages["sms"]
    assert (email["template"], sms["template"]) == (f"{code}.email", f"{code}.sms")
    assert email["subject"] == subject
    assert email["body"].startswith("Dear Ravi,\n\n")
    for line in email_lines:
        assert line in email["body"]
    assert sms["body"] == sms_body
    assert {m["status"] for m in messages.values()} == {"sent"}


async def test_money_is_shown_with_the_events_currency_or_the_clinics(env, patient):
    dollars = await publish(env, "invoice.issued", build.invoice_issued(patient["id"], currency="USD", total="12.5"))
    default = await publish(env, "invoice.issued", build.invoice_issued(patient["id"], currency=None))

    await env.drain()

    assert "Total USD 12.50," in (await messages_of(env, dollars))["email"]["body"]
    assert "Total INR 1596.00," in (await messages_of(env, default))["email"]["body"]


async def test_an_order_failure_without_a_reason_still_makes_sense(env, patient):
    event = await publish(env, "order.failed", build.order_failed(patient["id"], failure_reason=None))
    await env.drain()
    body = (await messages_of(env, event))["email"]["body"]
    assert "your order could not be completed.\n" in body


async def test_a_patient_without_a_phone_gets_only_email(env):
    patient = await make_patient(env, phone=None)
    event = await publish(env, "lab.result_ready", build.lab_result_ready(patient["id"]))
    await env.drain()
    assert set(await messages_of(env, event)) == {"email"}


async def test_a_patient_without_an_email_gets_only_sms(env):
    patient = await make_patient(env, email=None)
    event = await publish(env, "lab.result_ready", build.lab_result_ready(patient["id"]))
    await env.drain()
    assert set(await messages_of(env, event)) == {"sms"}


async def unreachable(env, kind: str) -> str:
    if kind == "unknown":
        return str(uuid.uuid4())
    if kind == "no contact":
        return (await make_patient(env, email=None, phone=None))["id"]
    patient = await make_patient(env)
    response = await env.client.delete(f"/api/v1/patients/{patient['id']}", headers=env.admin)
    assert response.status_code == 204, response.text
    return patient["id"]


@pytest.mark.parametrize("kind", ["unknown", "deleted", "no contact"])
async def test_an_unreachable_patient_gets_nothing_and_the_event_is_done_with(env, kind):
    patient_id = await unreachable(env, kind)
    event = await publish(env, "invoice.issued", build.invoice_issued(patient_id))

    await env.drain()

    assert await env.count("notifications") == 0
    # Handled once, not retried: no pending delivery, no dead letter.
    assert await env.count("inbox", "consumer = 'notifications' AND event_id = :id", id=event.id.hex) == 1
    assert await env.count("event_deliveries") == 0
    assert await env.count("dead_letters") == 0


@pytest.mark.parametrize("payload", [{}, {"patient_id": "not-a-uuid"}, {"patient_id": None}])
async def test_an_event_without_a_usable_patient_id_is_skipped(env, payload):
    await publish(env, "lab.result_ready", payload)
    await env.drain()
    assert await env.count("notifications") == 0
    assert await env.count("dead_letters") == 0


def test_the_consumer_subscribes_to_every_published_event():
    from caremesh.notifications.handlers import SUBSCRIPTIONS
    from caremesh.notifications.published import published_events

    # The built-in kinds' events, and every other one for the templates that may be added for it at run time.
    assert sorted(s.event_type for s in SUBSCRIPTIONS) == sorted(published_events())
    assert set(triggers.KIND_EVENTS.values()) == {
        "appointment.booked",
        "appointment.cancelled",
        "invoice.issued",
        "payment.completed",
        "payment.failed",
        "payment.refunded",
        "order.confirmed",
        "order.cancelled",
        "order.failed",
        "lab.result_ready",
        "imaging.reported",
        "coverage.created",
        "claim.adjudicated",
        "claim.paid",
        "user.password_reset_requested",
        "user.email_verification_requested",
    }
    assert {s.consumer for s in SUBSCRIPTIONS} == {"notifications"}
