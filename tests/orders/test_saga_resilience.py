"""The saga survives what production does to it: a stop halfway, a consumer crashing, a redelivery, a step
that never answers, and many orders racing for the same stock."""

from __future__ import annotations

import asyncio

import pytest

from caremesh.billing import contract as billing
from caremesh.orders.jobs import SagaTimeout
from caremesh.pharmacy import handlers as pharmacy_handlers
from caremesh.platform.messaging.bus import Subscriptions
from caremesh.platform.messaging.consumer import ConsumerWorker, tables_of
from caremesh.platform.messaging.envelope import Envelope
from tests.builders.orders import (
    cancel,
    invoices_of,
    medication,
    order,
    parties,
    place,
    place_order,
    prescription,
    reservations,
    steps,
    stock_medication,
)
from tests.harness import outbox_rows, running_env


async def test_a_process_stopped_mid_saga_resumes_on_the_next_start_without_repeating_a_step(env):
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 4)))
    # The first process relays order.placed and pharmacy reserves; then it stops before orders hears back.
    workers = env.app.state.workers
    await workers.relay.drain()
    pharmacy_only = ConsumerWorker(env.app.state.uow_factory, Subscriptions(pharmacy_handlers.SUBSCRIPTIONS))
    assert await pharmacy_only.run_once() == 1
    assert (await order(env, placed["id"]))["status"] == "pending"

    async with running_env(env.app.state.settings, clock=env.clock) as restarted:
        await restarted.drain()
        assert (await order(restarted, placed["id"]))["status"] == "confirmed"
        assert len(await invoices_of(restarted, placed["id"])) == 1
        assert [r["status"] for r in await reservations(restarted, placed["id"])] == ["reserved"]
        assert (await medication(restarted, amoxicillin["id"]))["available_quantity"] == 6
        assert await steps(restarted, placed["id"]) == ["placed", "stock_reserved", "invoiced", "confirmed"]


async def test_a_consumer_crashing_mid_step_leaves_nothing_half_done_and_the_redelivery_completes_it(env, monkeypatch):
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 2)))
    issue = billing.issue_for_order

    async def crash_after_invoicing(uow, charge):
        await issue(uow, charge)
        raise RuntimeError("the process died here")

    monkeypatch.setattr(billing, "issue_for_order", crash_after_invoicing)
    await env.drain()
    assert (await order(env, placed["id"]))["status"] == "pending"
    assert await invoices_of(env, placed["id"]) == []  # the invoice went with the crashed transaction
    assert await steps(env, placed["id"]) == ["placed"]
    assert await env.count("invoices") == 0

    monkeypatch.setattr(billing, "issue_for_order", issue)
    env.clock.advance(seconds=60)  # past the retry's backoff
    await env.drain()

    assert (await order(env, placed["id"]))["status"] == "confirmed"
    assert len(await invoices_of(env, placed["id"])) == 1
    assert await steps(env, placed["id"]) == ["placed", "stock_reserved", "invoiced", "confirmed"]
    assert (await medication(env, amoxicillin["id"]))["available_quantity"] == 8


@pytest.mark.parametrize(
    "event_type", ["order.placed", "medication.reserved", "order.cancelled", "medication.released"]
)
async def test_a_redelivered_event_has_one_effect(env, event_type):
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 3)))
    await env.drain()
    if event_type.endswith(("cancelled", "released")):
        assert (await cancel(env, placed["id"])).status_code == 200
        await env.drain()
    before = (await steps(env, placed["id"]), await medication(env, amoxicillin["id"]), await env.count("invoices"))

    # The broker delivers the same event again to every consumer of it.
    async with env.uow() as uow:
        [event] = await outbox_rows(env, event_type)
        for subscription in env.app.state.workers.subscriptions.for_event(event_type):
            uow.session.add(
                tables_of(subscription.consumer).deliveries(
                    consumer=subscription.consumer,
                    event_id=event.id,
                    event_type=event.type,
                    envelope=Envelope(
                        id=event.id,
                        type=event.type,
                        version=event.version,
                        occurred_at=event.occurred_at,
                        correlation_id=event.correlation_id,
                        causation_id=event.causation_id,
                        payload=event.payload,
                    ).to_dict(),
                    attempts=0,
                    next_attempt_at=env.clock.now(),
                )
            )
    await env.drain()

    after = (await steps(env, placed["id"]), await medication(env, amoxicillin["id"]), await env.count("invoices"))
    assert after == before
    assert await env.count("event_deliveries") == 0


async def test_an_order_nobody_answers_times_out_and_is_compensated(make_env):
    async with make_env(orders={"order_saga_timeout_seconds": 60}) as env:
        amoxicillin = await stock_medication(env, stock=10)
        patient, practitioner = await parties(env)
        placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 4)))
        job = SagaTimeout(env.app.state.uow_factory)
        assert await job.run_once() == 0  # not overdue yet

        env.clock.advance(seconds=61)
        assert await job.run_once() == 1
        assert await job.run_once() == 0
        await env.drain()  # pharmacy hears order.placed late, then order.failed

        failed = await order(env, placed["id"])
        assert (failed["status"], failed["failure_reason"]) == ("failed", "SAGA_TIMEOUT")
        assert (await medication(env, amoxicillin["id"]))["available_quantity"] == 10
        assert await invoices_of(env, placed["id"]) == []
        recorded = await steps(env, placed["id"])
        assert recorded[:3] == ["placed", "timed_out", "failed"]
        assert "invoiced" not in recorded


async def test_with_n_available_2n_concurrent_orders_confirm_exactly_n(env):
    n = 6
    scarce = await stock_medication(env, stock=n)
    patient, practitioner = await parties(env)
    await env.warm_pool()

    responses = await asyncio.gather(
        *(place(env, prescription(patient, practitioner, (scarce, 1))) for _ in range(2 * n))
    )
    assert [r.status_code for r in responses] == [202] * (2 * n)
    await env.drain()

    statuses = [(await order(env, r.json()["id"]))["status"] for r in responses]
    assert (statuses.count("confirmed"), statuses.count("failed")) == (n, n)
    stock = await medication(env, scarce["id"])
    assert (stock["stock_quantity"], stock["reserved_quantity"], stock["available_quantity"]) == (n, n, 0)
    assert await env.count("invoices") == n


async def test_concurrent_cancellations_cancel_once(env):
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 2)))
    await env.drain()
    await env.warm_pool()

    responses = await asyncio.gather(*(cancel(env, placed["id"]) for _ in range(8)))

    assert sorted(r.status_code for r in responses) == [200] + [409] * 7
    await env.drain()
    assert await env.count("outbox_events", "type = 'order.cancelled'") == 1
    assert await env.count("outbox_events", "type = 'invoice.voided'") == 1
    assert (await medication(env, amoxicillin["id"]))["available_quantity"] == 10
