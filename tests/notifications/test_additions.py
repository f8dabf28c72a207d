"""Issue 16's messages: orders confirmed and cancelled, refunds, coverages and premium invoices to the patient;
claims adjudicated and paid to the billing office (CAREMESH_BILLING_EMAIL; unset: nothing); one message per event
and channel however often an event is delivered."""

from __future__ import annotations

import pytest

from tests.builders import notifications as build
from tests.builders.notifications import deliver_again, list_notifications, messages_of, publish
from tests.builders.patients import make_patient

OFFICE = "billing-office@clinic.example.org"


@pytest.fixture
async def patient(env):
    return await make_patient(env, first_name="Ravi", email="ravi.k@example.org", phone="+919800011122")


async def test_an_order_confirmed_and_cancelled_tell_the_patient(env, patient):
    confirmed = await publish(env, "order.confirmed", build.order_confirmed(patient["id"]))
    cancelled = await publish(env, "order.cancelled", build.order_cancelled(patient["id"]))

    await env.drain()

    first = await messages_of(env, confirmed)
    assert first["email"]["template"] == "order_confirmed.email"
    assert first["email"]["subject"] == "Your lab order ORD-2030-000003 is confirmed"
    assert "Monday 7 January 2030, 10:00 UTC" in first["email"]["body"]
    assert first["sms"]["body"] == "caremesh: Ravi, your lab order ORD-2030-000003 is confirmed."
    second = await messages_of(env, cancelled)
    assert second["email"]["subject"] == "Your prescription order ORD-2030-000004 is cancelled"
    assert second["sms"]["recipient"] == "+919800011122"


async def test_a_refund_tells_the_patient_the_amount_in_their_currency(env, patient):
    event = await publish(env, "payment.refunded", build.payment_refunded(patient["id"]))

    await env.drain()

    messages = await messages_of(env, event)
    assert messages["email"]["subject"] == "Refund RFD-2030-000001 of INR 250.00"
    assert (
        "we refunded INR 250.00 of your payment PAY-2030-000003 for invoice INV-2030-000007"
        in messages["email"]["body"]
    )
    assert messages["sms"]["body"] == "caremesh: Ravi, we refunded INR 250.00 of payment PAY-2030-000003."
    assert {m["recipient_id"] for m in messages.values()} == {patient["id"]}


async def test_a_new_coverage_tells_the_patient_without_an_end_date_when_it_has_none(env, patient):
    event = await publish(env, "coverage.created", build.coverage_created(patient["id"]))

    await env.drain()

    email = (await messages_of(env, event))["email"]
    assert email["subject"] == "Your insurance coverage is on file"
    assert "valid from 2030-01-01.\n" in email["body"]


async def test_a_premium_invoice_has_its_own_template_and_other_invoices_keep_theirs(env, patient):
    premium = await publish(
        env, "invoice.issued", build.invoice_issued(patient["id"], kind="premium", appointment_id=None)
    )
    visit = await publish(env, "invoice.issued", build.invoice_issued(patient["id"], kind="consultation"))
    older = await publish(env, "invoice.issued", build.invoice_issued(patient["id"]))  # published before `kind`

    await env.drain()

    premium_messages = await messages_of(env, premium)
    assert premium_messages["email"]["template"] == "premium_invoice_issued.email"
    assert premium_messages["email"]["subject"] == "Your insurance premium: invoice INV-2030-000007, INR 1596.00 due"
    assert premium_messages["sms"]["template"] == "premium_invoice_issued.sms"
    for event in (visit, older):
        assert (await messages_of(env, event))["email"]["template"] == "invoice_issued.email"


async def test_claims_tell_the_billing_office_by_email_and_never_the_patient(make_env):
    async with make_env(notifications={"billing_email": OFFICE}) as env:
        patient = await make_patient(env)
        adjudicated = await publish(env, "claim.adjudicated", build.claim_adjudicated(patient["id"]))
        paid = await publish(env, "claim.paid", build.claim_paid(patient["id"]))

        await env.drain()

        [decision] = (await messages_of(env, adjudicated)).values()
        assert (decision["channel"], decision["recipient"], decision["recipient_id"]) == ("email", OFFICE, None)
        assert decision["subject"] == "Claim CLM-2030-000005 partially approved: INR 1200.00 of INR 1436.40"
        assert patient["first_name"] not in decision["body"]
        [payment] = (await messages_of(env, paid)).values()
        assert payment["subject"] == "Claim CLM-2030-000005 paid: INR 1200.00"
        assert payment["template"] == "claim_paid.email"
        assert await list_notifications(env, recipient_id=patient["id"]) == []


async def test_without_a_billing_office_address_claims_send_nothing_and_are_not_even_delivered(env, patient):
    await publish(env, "claim.adjudicated", build.claim_adjudicated(patient["id"]))

    await env.drain()

    assert await env.count("notifications") == 0
    assert await env.count("inbox", "consumer = 'notifications' AND event_type = 'claim.adjudicated'") == 0
    assert await env.count("dead_letters") == 0


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("order.confirmed", build.order_confirmed),
        ("payment.refunded", build.payment_refunded),
        ("coverage.created", build.coverage_created),
    ],
)
async def test_a_redelivered_event_makes_no_second_message(env, patient, event_type, payload):
    event = await publish(env, event_type, payload(patient["id"]))
    await env.drain()
    first = await messages_of(env, event)

    await deliver_again(env, event)
    await env.drain()

    assert await messages_of(env, event) == first
    assert await env.count("notifications") == 2
    assert await env.count("event_deliveries") == 0


async def test_a_redelivered_claim_makes_one_message_for_the_office(make_env):
    async with make_env(notifications={"billing_email": OFFICE}) as env:
        event = await publish(env, "claim.paid", build.claim_paid(str((await make_patient(env))["id"])))
        await env.drain()
        await deliver_again(env, event)
        await env.drain()

        assert len(await list_notifications(env, source_event_id=event.id)) == 1
