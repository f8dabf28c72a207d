"""Billing subscribes only to the events its `CAREMESH_BILL_ON` setting needs: under steady booking, no
`appointment.booked` deliveries queue ahead of the completions it bills."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

import nats
import pytest

from caremesh.billing.handlers import CONSUMER, SUBSCRIPTIONS
from caremesh.platform.messaging.bus import Subscriptions
from caremesh.platform.messaging.jetstream import JetStreamBroker
from caremesh.platform.settings import BillingSettings, Settings
from tests.builders import deliveries
from tests.builders.billing import complete, invoice_of, next_working_day, rfc3339
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import make_appointment
from tests.harness import T0
from tests.platform.test_transport_contract import NATS_URL, transport  # noqa: F401 (the fixture)


def billing_events(settings: Settings) -> set[str]:
    return {s.event_type for s in Subscriptions(SUBSCRIPTIONS, settings=settings)}


# Whatever it bills on, billing follows the visits' procedures (medical records) and invoices premiums due.
RECORDS = {"medical_record.created", "medical_record.amended", "medical_record.retracted", "premium.billed"}


def test_billing_on_completion_takes_completions_only():
    assert billing_events(Settings(billing=BillingSettings(bill_on="completed"))) == {"appointment.completed", *RECORDS}


def test_billing_on_booking_takes_bookings_and_cancellations_only():
    assert billing_events(Settings(billing=BillingSettings(bill_on="booked"))) == {
        "appointment.booked",
        "appointment.cancelled",
        *RECORDS,
    }


def test_a_switched_off_subscription_is_still_found_for_a_delivery_queued_before_the_change():
    subscriptions = Subscriptions(SUBSCRIPTIONS, settings=Settings(billing=BillingSettings(bill_on="completed")))

    assert subscriptions.for_event("appointment.booked") == []
    assert subscriptions.get(CONSUMER, "appointment.booked") is not None
    assert {s.event_type for s in subscriptions.switched_off()} == {"appointment.booked", "appointment.cancelled"}


async def visit(env):
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    start = datetime.combine(next_working_day(env), time(10), tzinfo=T0.tzinfo)
    appointment = await make_appointment(
        env, patient_id=patient["id"], practitioner_id=doctor["id"], start=rfc3339(start)
    )
    return appointment, start


async def test_a_booking_queues_nothing_for_billing_when_it_bills_on_completion(env):
    appointment, start = await visit(env)
    await env.app.state.workers.relay.drain()  # fanned out, not yet consumed

    assert await env.count("event_deliveries", "event_type = 'appointment.booked' AND consumer = :c", c=CONSUMER) == 0
    assert await env.count("event_deliveries", "event_type = 'appointment.booked'") > 0  # notifications still get it

    await complete(env, appointment["id"], start, start + timedelta(minutes=30))
    await env.drain()
    assert (await invoice_of(env, appointment["id"]))["status"] == "issued"


async def test_a_booking_queued_while_billing_billed_on_booking_is_handled_after_the_switch_not_dead_lettered(
    env,
):
    appointment, _ = await visit(env)
    # The relay of an installation that billed on booking fanned the event out to billing...
    await deliveries.relay(env, switched_on=[SUBSCRIPTIONS[1]])  # billing's appointment.booked
    assert await env.count("event_deliveries", "event_type = 'appointment.booked' AND consumer = :c", c=CONSUMER) == 1

    # ...and this one, billing on completion, consumes it: the handler reads the setting and does nothing.
    await env.drain()

    assert await env.count("event_deliveries", "consumer = :c", c=CONSUMER) == 0
    assert await env.count("dead_letters") == 0
    assert (await env.client.get(f"/api/v1/invoices?appointment_id={appointment['id']}", headers=env.admin)).json()[
        "items"
    ] == []


async def test_the_broker_drops_the_durable_consumer_of_a_switched_off_subscription(transport):  # noqa: F811
    if transport != "nats":
        pytest.skip("broker consumers only")
    messaging = Settings().messaging.model_copy(
        update={"broker_url": NATS_URL, "broker_namespace": f"cmtest_{uuid.uuid4().hex[:12]}"}
    )
    broker = JetStreamBroker(messaging)
    try:
        booked = Settings(billing=BillingSettings(bill_on="booked"))
        await broker.ensure_consumers(Subscriptions(SUBSCRIPTIONS, settings=booked))
        js = await broker.jetstream()
        durable = broker.durable(SUBSCRIPTIONS[1])
        await js.consumer_info(broker.stream, durable)

        completed = JetStreamBroker(messaging)  # the next start, billing on completion
        try:
            await completed.ensure_consumers(
                Subscriptions(SUBSCRIPTIONS, settings=Settings(billing=BillingSettings(bill_on="completed")))
            )
        finally:
            await completed.close()

        with pytest.raises(nats.js.errors.NotFoundError):
            await js.consumer_info(broker.stream, durable)
        await js.consumer_info(broker.stream, broker.durable(SUBSCRIPTIONS[0]))
    finally:
        await broker.delete_stream()
        await broker.close()
