"""Templates added for any published event (POST /notification-templates): checked in the sandbox against the
event's shape, honoured from the next event on without a restart, one message per event and channel; the patient
the event names hears, else the billing office."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from caremesh.claims import contract as claims
from caremesh.insurance import contract as insurance
from tests.builders.notifications import (
    TEMPLATES,
    assert_problem,
    deliver_again,
    list_notifications,
    messages_of,
    publish,
    put_template,
)
from tests.builders.patients import make_patient

OFFICE = "billing-office@clinic.example.org"
SUBMITTED_EMAIL = {
    "code": "claim_submitted.email",
    "event_type": "claim.submitted",
    "channel": "email",
    "subject": "Claim {{ number }} is with your insurer",
    "body": "Dear {{ first_name }}, we sent claim {{ number }} for {{ claimed_amount }} on {{ submitted_at }}.",
}


def claim_submitted(patient_id: str) -> dict:
    return claims.ClaimSubmitted(
        claim_id=uuid.uuid4(),
        number="CLM-2030-000009",
        invoice_id=uuid.uuid4(),
        patient_id=uuid.UUID(str(patient_id)),
        payer_id=uuid.uuid4(),
        claimed_amount=Decimal("1436.4"),
        currency="INR",
        submitted_at=datetime(2030, 1, 7, 12, 0, tzinfo=UTC),
    ).to_payload()


def scheme_suspended() -> dict:
    return insurance.SchemeSuspended(
        scheme_id=uuid.uuid4(), payer_id=uuid.uuid4(), suspended_at=datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
    ).to_payload()


async def add_template(env, headers=None, **overrides):
    return await env.client.post(TEMPLATES, json={**SUBMITTED_EMAIL, **overrides}, headers=headers or env.admin)


async def test_an_added_template_answers_its_event_from_the_next_one_on(env):
    patient = await make_patient(env, first_name="Ravi", email="ravi.k@example.org", phone="+919800011122")
    before = await publish(env, "claim.submitted", claim_submitted(patient["id"]))
    await env.drain()
    assert await list_notifications(env, source_event_id=before.id) == []

    response = await add_template(env)

    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/api/v1/notification-templates/{SUBMITTED_EMAIL['code']}"
    template = response.json()
    assert (template["event_type"], template["channel"], template["version"]) == ("claim.submitted", "email", 1)
    assert {"claimed_amount", "number", "first_name", "currency", "patient_id"} <= set(template["variables"])
    event = await publish(env, "claim.submitted", claim_submitted(patient["id"]))
    await env.drain()
    [message] = (await messages_of(env, event)).values()  # no SMS template: no SMS
    assert (message["recipient"], message["recipient_id"], message["template"]) == (
        "ravi.k@example.org",
        patient["id"],
        "claim_submitted.email",
    )
    assert message["subject"] == "Claim CLM-2030-000009 is with your insurer"
    assert message["body"] == (
        "Dear Ravi, we sent claim CLM-2030-000009 for INR 1436.40 on Monday 7 January 2030, 12:00 UTC."
    )
    listed = (await env.client.get(f"{TEMPLATES}/{SUBMITTED_EMAIL['code']}", headers=env.admin)).json()
    assert listed == template


async def test_an_sms_template_reaches_the_patients_phone(env):
    patient = await make_patient(env, first_name="Ravi", phone="+919800011122")
    sms = {"code": "claim_submitted.sms", "channel": "sms", "subject": None, "body": "Claim {{ number }} sent."}
    assert (await add_template(env, **sms)).status_code == 201

    event = await publish(env, "claim.submitted", claim_submitted(patient["id"]))
    await env.drain()

    assert (await messages_of(env, event))["sms"]["body"] == "Claim CLM-2030-000009 sent."


async def test_an_event_about_no_patient_goes_to_the_billing_office_or_nowhere(make_env):
    body = {
        "code": "scheme_suspended.email",
        "event_type": "scheme.suspended",
        "channel": "email",
        "subject": "A scheme was suspended",
        "body": "Scheme {{ scheme_id }} is suspended since {{ suspended_at }}.",
    }
    async with make_env(notifications={"billing_email": OFFICE}) as env:
        created = await env.client.post(TEMPLATES, json=body, headers=env.admin)
        assert created.status_code == 201, created.text
        assert "first_name" not in created.json()["variables"]
        sms = await env.client.post(
            TEMPLATES,
            json={**body, "code": "scheme_suspended.sms", "channel": "sms", "subject": None},
            headers=env.admin,
        )
        assert_problem(sms, 422, "VALIDATION_ERROR")

        event = await publish(env, "scheme.suspended", scheme_suspended())
        await env.drain()

        [message] = (await messages_of(env, event)).values()
        assert (message["recipient"], message["recipient_id"]) == (OFFICE, None)
        assert message["body"].endswith("is suspended since Monday 7 January 2030, 08:00 UTC.")
    async with make_env() as env:  # no office address
        assert (await env.client.post(TEMPLATES, json=body, headers=env.admin)).status_code == 201
        await publish(env, "scheme.suspended", scheme_suspended())
        await env.drain()
        assert await env.count("notifications") == 0
        assert await env.count("dead_letters") == 0


async def test_a_redelivered_event_makes_no_second_message(env):
    patient = await make_patient(env)
    assert (await add_template(env)).status_code == 201
    event = await publish(env, "claim.submitted", claim_submitted(patient["id"]))
    await env.drain()
    first = await messages_of(env, event)

    await deliver_again(env, event)
    await env.drain()

    assert await messages_of(env, event) == first
    assert await env.count("notifications") == 1
    assert await env.count("event_deliveries") == 0


async def test_an_event_nobody_wrote_a_template_for_is_handled_and_makes_nothing(env):
    await make_patient(env)  # patient.registered: subscribed, no template

    await env.drain()

    assert await env.count("inbox", "consumer = 'notifications' AND event_type = 'patient.registered'") == 1
    assert await env.count("notifications") == 0
    assert await env.count("dead_letters") == 0


async def test_an_unknown_event_type_is_refused(env):
    response = await add_template(env, event_type="claim.teleported")

    body = assert_problem(response, 422, "UNKNOWN_EVENT_TYPE")
    assert body["errors"][0]["loc"] == ["event_type"]
    assert await env.count("notification_templates", "event_type IS NOT NULL") == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"event_type": "appointment.booked"},  # has built-in templates: PUT them
        {"event_type": "user.password_reset_requested"},  # carries a secret only its own template may show
        {"code": "appointment_booked.email"},  # a built-in template's code
    ],
)
async def test_events_and_codes_of_built_in_templates_are_refused(env, overrides):
    assert_problem(await add_template(env, **overrides), 409, "TEMPLATE_EXISTS")


async def test_one_template_per_code_and_per_event_and_channel(env):
    assert (await add_template(env)).status_code == 201

    assert_problem(await add_template(env, event_type="claim.paid"), 409, "TEMPLATE_EXISTS")
    assert_problem(await add_template(env, code="claim_submitted.other"), 409, "TEMPLATE_EXISTS")
    assert await env.count("notification_templates", "event_type IS NOT NULL") == 1


async def test_concurrent_additions_for_one_event_and_channel_keep_one(env):
    await env.warm_pool()

    responses = await asyncio.gather(*(add_template(env, code=f"claim_submitted.v{n}") for n in range(6)))

    assert sorted(r.status_code for r in responses) == [201] + [409] * 5
    assert await env.count("notification_templates", "event_type = 'claim.submitted'") == 1


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        ({"body": "Hello {{ diagnosis }}"}, "body"),  # not a field of the event
        ({"body": "{{ ''.__class__.__mro__ }}"}, "body"),  # the sandbox
        ({"subject": "{% for x in range(10**9) %}x{% endfor %}"}, "subject"),
    ],
)
async def test_a_template_that_does_not_render_against_the_event_is_refused(env, overrides, loc):
    body = assert_problem(await add_template(env, **overrides), 422, "INVALID_TEMPLATE")

    assert body["errors"][0]["loc"] == [loc]
    assert await env.count("notification_templates", "event_type IS NOT NULL") == 0


async def test_a_template_must_cope_with_optional_fields_absent(env):
    response = await add_template(
        env,
        code="order_placed.email",
        event_type="order.completed",
        subject="Done",
        body="{{ completed_at }} {{ number | upper }}",
    )
    assert response.status_code == 201, response.text
    refused = await add_template(
        env,
        code="appointment_rescheduled.email",
        event_type="invoice.voided",
        subject="Voided",
        body="{{ appointment_id[:8] }}",  # None when the invoice is for an order
    )
    assert_problem(refused, 422, "INVALID_TEMPLATE")


async def test_email_needs_a_subject_and_sms_has_none(env):
    assert_problem(await add_template(env, subject=None), 422, "VALIDATION_ERROR")
    assert_problem(await add_template(env, channel="sms"), 422, "VALIDATION_ERROR")
    assert_problem(await add_template(env, code="Bad Code!"), 422, "VALIDATION_ERROR")


async def test_an_added_template_is_edited_with_put(env):
    assert (await add_template(env)).status_code == 201
    current = await env.client.get(f"{TEMPLATES}/{SUBMITTED_EMAIL['code']}", headers=env.admin)

    edited = await put_template(
        env,
        SUBMITTED_EMAIL["code"],
        "Claim {{ number }}: {{ claimed_amount }}",
        subject="Claim sent",
        headers={**env.admin, "If-Match": current.headers["ETag"]},
    )

    assert edited.status_code == 200, edited.text
    assert (edited.json()["version"], edited.json()["event_type"]) == (2, "claim.submitted")
    assert_problem(await put_template(env, SUBMITTED_EMAIL["code"], "{{ nope }}", subject="x"), 422, "INVALID_TEMPLATE")


async def test_only_those_who_manage_notifications_add_templates(env):
    clerk = await env.user(["billing_clerk"])

    assert_problem(await add_template(env, headers=clerk), 403, "FORBIDDEN")
    assert_problem(await env.client.post(TEMPLATES, json=SUBMITTED_EMAIL), 401, "UNAUTHENTICATED")


async def test_a_retried_addition_with_its_idempotency_key_is_replayed(env):
    headers = {**env.admin, "Idempotency-Key": "add-claim-template-1"}

    first = await add_template(env, headers=headers)
    again = await add_template(env, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert await env.count("notification_templates", "event_type IS NOT NULL") == 1
