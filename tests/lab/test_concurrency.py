"""Many units of work against one test's capacity at once; concurrent results of one order."""

from __future__ import annotations

import asyncio
from collections import Counter

from caremesh.lab.handlers import SUBSCRIPTIONS
from caremesh.orders.contract import ORDER_PLACED
from caremesh.platform.messaging.consumer import handle_once
from caremesh.platform.messaging.envelope import Envelope
from tests.builders.lab import booked, confirm, day, lab_orders, make_lab_test, place, placed, result, today
from tests.builders.patients import make_patient
from tests.harness import outbox_payloads

CAPACITY = 8
[PLACED] = [s for s in SUBSCRIPTIONS if s.event_type == ORDER_PLACED]


async def test_2c_concurrent_bookings_take_exactly_c_today_and_the_rest_tomorrow(env):
    test = await make_lab_test(env, daily_capacity=CAPACITY)
    patient = await make_patient(env)
    orders = [placed(patient["id"], test) for _ in range(2 * CAPACITY)]
    envelopes = [Envelope(type=ORDER_PLACED, payload=o, occurred_at=env.clock.now()) for o in orders]

    async def consume(envelope):
        async with env.uow() as uow:
            assert await handle_once(uow, PLACED, envelope)

    await asyncio.gather(*(consume(e) for e in envelopes))

    days = Counter(o["scheduled_date"] for o in await lab_orders(env, lab_test_id=test["id"]))
    assert days == {day(env, 0): CAPACITY, day(env, 1): CAPACITY}
    assert await booked(env, test["id"], today(env)) == CAPACITY
    assert len(await outbox_payloads(env, "lab.scheduled")) == 2 * CAPACITY


async def test_concurrent_results_record_once_and_one_says_the_order_is_fully_resulted(env):
    test = await make_lab_test(env)
    patient = await make_patient(env)
    order = placed(patient["id"], test, test, test)
    await place(env, order)
    await confirm(env, order)
    bookings = await lab_orders(env, order_id=order["order_id"])
    await env.warm_pool()

    responses = await asyncio.gather(*(result(env, b["id"]) for b in bookings for _ in range(3)))

    assert Counter(r.status_code for r in responses) == {200: 3, 409: 6}, [r.text for r in responses]
    ready = await outbox_payloads(env, "lab.result_ready")
    assert sorted(p["lab_order_id"] for p in ready) == sorted(b["id"] for b in bookings)
    assert [p["order_fully_resulted"] for p in ready] == [False, False, True]
