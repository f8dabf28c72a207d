"""CAREMESH_BILL_ON=booked: the invoice is issued at booking, priced on the scheduled times, and voided
when the appointment is cancelled, unless money has moved on it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest

from caremesh.billing import contract as billing
from caremesh.billing import service as billing_service
from tests.builders.billing import INVOICES, complete, invoice_of, next_working_day
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import assert_problem, make_appointment, outbox_payloads
from tests.harness import T0


@pytest.fixture
async def booked_env(make_env):
    async with make_env(billing={"bill_on": "booked"}) as env:
        yield env


async def book(env, *, specialty="dermatology", duration_minutes=90):
    doctor = await make_practitioner(env, specialty=specialty)
    patient = await make_patient(env)
    start = datetime.combine(next_working_day(env), time(10), tzinfo=T0.tzinfo)
    appointment = await make_appointment(
        env, patient_id=patient["id"], practitioner_id=doctor["id"], start=start, duration_minutes=duration_minutes
    )
    return appointment, start


async def cancel(env, appointment_id):
    response = await env.client.post(f"/api/v1/appointments/{appointment_id}/cancel", headers=env.admin)
    assert response.status_code == 200, response.text


async def test_booking_issues_the_invoice_on_the_scheduled_times(booked_env):
    env = booked_env
    appointment, start = await book(env, duration_minutes=90)  # 1 h 30 m booked: 2 hours
    await env.drain()
    invoice = await invoice_of(env, appointment["id"])
    assert (invoice["status"], invoice["lines"][0]["quantity"], invoice["subtotal"]) == ("issued", 2, "400.00")

    # Completing it with other times changes nothing: the booking was billed.
    await complete(env, appointment["id"], start, start + timedelta(hours=3))
    await env.drain()
    assert await invoice_of(env, appointment["id"]) == invoice
    assert await env.count("invoices") == 1


async def test_cancelling_voids_the_unpaid_invoice(booked_env):
    env = booked_env
    appointment, _ = await book(env)
    await env.drain()
    invoice = await invoice_of(env, appointment["id"])
    await cancel(env, appointment["id"])
    await env.drain()

    voided = await invoice_of(env, appointment["id"])
    assert (voided["status"], voided["void_reason"], voided["version"]) == ("void", "appointment cancelled", 2)
    [payload] = await outbox_payloads(env, "invoice.voided")
    assert (payload["invoice_id"], payload["reason"]) == (invoice["id"], "appointment cancelled")


@pytest.mark.parametrize("settled", [False, True])
async def test_a_cancelled_appointment_keeps_an_invoice_with_money_on_it(booked_env, settled):
    env = booked_env
    appointment, _ = await book(env)
    await env.drain()
    invoice_id = uuid.UUID((await invoice_of(env, appointment["id"]))["id"])
    async with env.uow() as uow:
        await billing.reserve_payment(uow, invoice_id, Decimal("100.00"))
        if settled:
            await billing.settle_payment(uow, invoice_id, Decimal("100.00"), succeeded=True)
    await cancel(env, appointment["id"])
    await env.drain()

    kept = await invoice_of(env, appointment["id"])
    assert kept["status"] == ("partially_paid" if settled else "issued")
    assert "invoice.voided" not in await env.outbox_types()
    assert await env.count("dead_letters") == 0


async def test_an_appointment_cancelled_before_billing_ran_is_not_billed(booked_env):
    env = booked_env
    appointment, _ = await book(env)
    await cancel(env, appointment["id"])
    await env.drain()
    assert await env.count("invoices") == 0
    assert await env.count("dead_letters") == 0
    assert await env.count("event_deliveries") == 0


async def test_post_bills_any_appointment_that_is_not_cancelled(booked_env):
    env = booked_env
    scheduled, _ = await book(env)
    response = await env.client.post(INVOICES, json={"appointment_id": scheduled["id"]}, headers=env.admin)
    assert response.status_code == 201, response.text

    cancelled, _ = await book(env)
    await cancel(env, cancelled["id"])
    response = await env.client.post(INVOICES, json={"appointment_id": cancelled["id"]}, headers=env.admin)
    assert_problem(response, 409, "APPOINTMENT_CANCELLED")


async def test_billing_on_completion_ignores_bookings_and_cancellations(env):
    appointment, _ = await book(env)
    await cancel(env, appointment["id"])
    await env.drain()
    assert await env.count("invoices") == 0
    assert await env.count("dead_letters") == 0


async def test_a_cancellation_racing_the_booking_invoice_waits_for_it_and_then_voids_it(booked_env):
    """Billing share-locks the appointment while it prices the booking: the cancellation waits until the
    invoice is committed, so the cancellation's consumer finds it and voids it."""
    env = booked_env
    appointment, _ = await book(env)
    async with env.uow() as consumer_uow:
        await billing_service.issue_for_appointment(consumer_uow, uuid.UUID(appointment["id"]))
        cancelling = asyncio.create_task(
            env.client.post(f"/api/v1/appointments/{appointment['id']}/cancel", headers=env.admin)
        )
        await asyncio.sleep(0.5)
        assert not cancelling.done(), "the cancellation must wait for billing's transaction"
    assert (await asyncio.wait_for(cancelling, 10)).status_code == 200
    await env.drain()
    assert (await invoice_of(env, appointment["id"]))["status"] == "void"
