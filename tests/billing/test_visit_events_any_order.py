"""Billing's consumers of an appointment's events (booked, completed, cancelled) end in the same state whatever
order they are handled in, duplicated or at the same time: they act on the appointment's state as scheduling's
contract reads it (under a share lock), never on the order the events arrive in.

Billing subscribes only to the events its CAREMESH_BILL_ON needs; these tests queue every event for it anyway
(as an installation whose setting just changed has), so each pair below really reaches its handlers."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Any

import pytest

from caremesh.billing.handlers import SUBSCRIPTIONS
from tests.builders import deliveries
from tests.builders.billing import complete, next_working_day
from tests.builders.deliveries import Waiting, hand, hand_in_order, one, settle
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import make_appointment
from tests.harness import T0

SEQUENCES = {
    "natural": (0, 1),
    "reversed": (1, 0),
    "each twice": (0, 0, 1, 1),
    "reversed, duplicated": (1, 0, 1, 0),
    "at once": None,
}
# Billing's subscriptions a setting may switch off: all three.
SWITCHED_OFF = SUBSCRIPTIONS
sequences = pytest.mark.parametrize("sequence", list(SEQUENCES.values()), ids=list(SEQUENCES))


async def _hand(env: Any, pair: list[Waiting], sequence: tuple[int, ...] | None) -> None:
    if sequence is None:  # both in flight together, each in its own transaction
        await asyncio.gather(*(hand(env, d) for d in pair))
    else:
        await hand_in_order(env, [pair[i] for i in sequence])
    await settle(env)


async def _book(env: Any) -> tuple[dict[str, Any], datetime]:
    doctor = await make_practitioner(env, specialty="dermatology")
    patient = await make_patient(env)
    start = datetime.combine(next_working_day(env), time(10), tzinfo=T0.tzinfo)
    appointment = await make_appointment(
        env, patient_id=patient["id"], practitioner_id=doctor["id"], start=start, duration_minutes=30
    )
    await deliveries.relay(env, switched_on=SWITCHED_OFF)
    return appointment, start


async def _invoices(env: Any, appointment_id: str) -> list[tuple[str, str]]:
    response = await env.client.get("/api/v1/invoices", params={"appointment_id": appointment_id}, headers=env.admin)
    assert response.status_code == 200, response.text
    return [(i["status"], i["total"]) for i in response.json()["items"]]


async def _cancel(env: Any, appointment_id: str) -> None:
    response = await env.client.post(f"/api/v1/appointments/{appointment_id}/cancel", headers=env.admin)
    assert response.status_code == 200, response.text
    await deliveries.relay(env, switched_on=SWITCHED_OFF)


@pytest.fixture
async def billed_on_booking(make_env):
    async with make_env(billing={"bill_on": "booked"}) as env:
        yield env


@sequences
async def test_a_cancellation_handled_before_the_booking_leaves_no_live_invoice(billed_on_booking, sequence):
    env = billed_on_booking
    appointment, _ = await _book(env)
    await _cancel(env, appointment["id"])
    pair = [await one(env, "billing", "appointment.booked"), await one(env, "billing", "appointment.cancelled")]

    await _hand(env, pair, sequence)

    assert all(status == "void" for status, _ in await _invoices(env, appointment["id"]))
    issued = await env.count("outbox_events", "type = 'invoice.issued'")
    assert await env.count("outbox_events", "type = 'invoice.voided'") == issued <= 1
    assert await env.count("dead_letters") == 0


@sequences
async def test_billing_on_booking_invoices_once_whether_the_completion_comes_first(billed_on_booking, sequence):
    env = billed_on_booking
    appointment, start = await _book(env)
    await complete(env, appointment["id"], start, start + timedelta(hours=2))  # priced on the booked 30 minutes
    await deliveries.relay(env, switched_on=SWITCHED_OFF)
    pair = [await one(env, "billing", "appointment.booked"), await one(env, "billing", "appointment.completed")]

    await _hand(env, pair, sequence)

    assert [status for status, _ in await _invoices(env, appointment["id"])] == ["issued"]
    assert await env.count("invoices") == 1
    assert await env.count("dead_letters") == 0


@sequences
async def test_billing_on_completion_invoices_once_whether_the_booking_comes_first(env, sequence):
    appointment, start = await _book(env)
    await complete(env, appointment["id"], start, start + timedelta(minutes=30))
    await deliveries.relay(env, switched_on=SWITCHED_OFF)
    pair = [await one(env, "billing", "appointment.booked"), await one(env, "billing", "appointment.completed")]

    await _hand(env, pair, sequence)

    assert [status for status, _ in await _invoices(env, appointment["id"])] == ["issued"]
    assert await env.count("outbox_events", "type = 'invoice.issued'") == 1
    assert await env.count("dead_letters") == 0


async def test_billing_on_completion_never_invoices_a_cancelled_visit_whatever_the_order(env):
    appointment, _ = await _book(env)
    await _cancel(env, appointment["id"])
    pair = [await one(env, "billing", "appointment.booked"), await one(env, "billing", "appointment.cancelled")]

    await hand_in_order(env, [pair[1], pair[0], pair[1], pair[0]])
    await settle(env)

    assert await _invoices(env, appointment["id"]) == []
    assert await env.count("dead_letters") == 0
