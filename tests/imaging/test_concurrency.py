"""Many orders at once for a study's last free slot in the 14-day window: exactly one books it, every other order
is refused for want of capacity and holds nothing; and concurrent reports of one order record once each."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from caremesh.imaging.handlers import SUBSCRIPTIONS
from caremesh.orders.contract import ORDER_PLACED
from caremesh.platform.messaging.consumer import handle_once
from caremesh.platform.messaging.envelope import Envelope
from tests.builders.imaging import booked, imaging_order, imaging_orders, make_study, placed, report
from tests.builders.orders import order, parties, place_order
from tests.harness import outbox_payloads

COMPETITORS = 8
[PLACED] = [s for s in SUBSCRIPTIONS if s.event_type == ORDER_PLACED]


async def _consume(env, payload) -> None:
    envelope = Envelope(type=ORDER_PLACED, payload=payload, occurred_at=env.clock.now())
    async with env.uow() as uow:
        assert await handle_once(uow, PLACED, envelope)


async def test_n_concurrent_orders_for_the_last_slot_book_it_exactly_once(env):
    study = await make_study(env, daily_capacity=1)
    patient, _ = await parties(env)
    for _ in range(13):  # every day of the window but the last is taken
        await _consume(env, placed(patient["id"], study))
    today = env.clock.now().date()
    last = today + timedelta(days=13)
    assert await booked(env, study["id"], last) == 0

    await asyncio.gather(*(_consume(env, placed(patient["id"], study)) for _ in range(COMPETITORS)))

    assert await booked(env, study["id"], last) == 1
    days = Counter(o["scheduled_date"] for o in await imaging_orders(env, imaging_study_id=study["id"]))
    assert days == {(today + timedelta(days=n)).isoformat(): 1 for n in range(14)}
    assert len(await outbox_payloads(env, "imaging.scheduled")) == 14
    refused = await outbox_payloads(env, "imaging.scheduling_failed")
    assert [(p["failure_reason"], p["cancelled"]) for p in refused] == [("NO_IMAGING_CAPACITY", [])] * (COMPETITORS - 1)


async def test_concurrent_orders_through_the_api_for_the_last_slot_confirm_exactly_one(env):
    study = await make_study(env, daily_capacity=1)
    patient, practitioner = await parties(env)
    for _ in range(13):
        await _consume(env, placed(patient["id"], study))
    await env.warm_pool()

    bodies = [imaging_order(patient, practitioner, study) for _ in range(COMPETITORS)]
    orders = await asyncio.gather(*(place_order(env, body) for body in bodies))
    await env.drain()

    outcomes = Counter()
    for placed_order in orders:
        read = await order(env, placed_order["id"])
        outcomes[(read["status"], read["failure_reason"])] += 1
    assert outcomes == {("confirmed", None): 1, ("failed", "NO_IMAGING_CAPACITY"): COMPETITORS - 1}


async def test_concurrent_reports_record_once_and_one_says_the_order_is_fully_reported(env):
    study = await make_study(env)
    patient, practitioner = await parties(env)
    placed_order = await place_order(env, imaging_order(patient, practitioner, study, study, study))
    await env.drain()
    bookings = await imaging_orders(env, order_id=placed_order["id"])
    await env.warm_pool()

    responses = await asyncio.gather(*(report(env, b["id"]) for b in bookings for _ in range(3)))

    assert Counter(r.status_code for r in responses) == {200: 3, 409: 6}, [r.text for r in responses]
    reported = await outbox_payloads(env, "imaging.reported")
    assert sorted(p["imaging_order_id"] for p in reported) == sorted(b["id"] for b in bookings)
    assert [p["order_fully_reported"] for p in reported] == [False, False, True]
