"""Many units of work at once against the stock: never more reserved than there is, never a deadlock, every
restock and dispense counted once."""

from __future__ import annotations

import asyncio
from collections import Counter

from caremesh.platform.messaging.consumer import handle_once
from caremesh.platform.messaging.envelope import Envelope
from tests.builders.pharmacy import (
    confirm,
    dispense,
    make_medication,
    medication,
    order_cancelled,
    order_placed,
    outbox_payloads,
    place,
    quantities,
    reservations,
    restock,
    subscription,
)

N = 6


async def _handle_concurrently(env, payloads: list[dict]) -> list[bool]:
    """Run pharmacy's order.placed handler for every payload, each in its own unit of work, all at once."""
    placed = subscription("order.placed")

    async def handle(payload: dict) -> bool:
        envelope = Envelope(type="order.placed", payload=payload, occurred_at=env.clock.now())
        async with env.uow() as uow:
            return await handle_once(uow, placed, envelope)

    return await asyncio.gather(*(handle(p) for p in payloads))


async def _statuses(env, orders: list[dict]) -> Counter:
    """How many orders ended all reserved, and how many refused."""
    outcome: Counter = Counter()
    for order in orders:
        statuses = {r["status"] for r in await reservations(env, order_id=order["order_id"])}
        outcome["reserved" if statuses == {"reserved"} else "refused" if "failed" in statuses else repr(statuses)] += 1
    return outcome


async def test_with_n_available_2n_concurrent_reservations_reserve_exactly_n(env):
    med = await make_medication(env, stock=N)
    orders = [order_placed((med, 1)) for _ in range(2 * N)]
    await env.warm_pool(2 * N)

    assert await _handle_concurrently(env, orders) == [True] * (2 * N)

    assert await quantities(env, med["id"]) == (N, N, 0)
    assert await _statuses(env, orders) == {"reserved": N, "refused": N}
    assert len(await outbox_payloads(env, "medication.reserved")) == N
    failures = await outbox_payloads(env, "medication.reservation_failed")
    assert [(f["failure_reason"], f["available"]) for f in failures] == [("INSUFFICIENT_STOCK", 0)] * N


async def test_orders_naming_the_same_medications_in_opposite_orders_neither_deadlock_nor_oversell(env):
    a = await make_medication(env, stock=N)
    b = await make_medication(env, stock=N)
    orders = [order_placed((a, 1), (b, 1)) if n % 2 else order_placed((b, 1), (a, 1)) for n in range(2 * N)]
    await env.warm_pool(2 * N)

    assert await _handle_concurrently(env, orders) == [True] * (2 * N)

    assert await quantities(env, a["id"]) == (N, N, 0)
    assert await quantities(env, b["id"]) == (N, N, 0)
    assert await _statuses(env, orders) == {"reserved": N, "refused": N}


async def test_concurrent_dispenses_of_one_reservation_take_the_stock_once(env):
    med = await make_medication(env, stock=10)
    order = await place(env, (med, 4))
    await confirm(env, order)
    [reservation] = await reservations(env, order_id=order["order_id"])
    await env.warm_pool(2 * N)

    responses = await asyncio.gather(*(dispense(env, reservation["id"]) for _ in range(2 * N)))

    assert Counter(r.status_code for r in responses) == {200: 1, 409: 2 * N - 1}, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"RESERVATION_NOT_DISPENSABLE"}
    assert await quantities(env, med["id"]) == (6, 0, 6)
    assert len(await outbox_payloads(env, "medication.dispensed")) == 1


async def test_concurrent_dispenses_and_restocks_of_one_medication_all_count(env):
    med = await make_medication(env, stock=20)
    order = await place(env, *[(med, 1)] * N)
    await confirm(env, order)
    listed = await reservations(env, order_id=order["order_id"])
    await env.warm_pool(2 * N)

    responses = await asyncio.gather(
        *(dispense(env, r["id"]) for r in listed), *(restock(env, med["id"], 2) for _ in range(N))
    )

    assert [r.status_code for r in responses] == [200] * (2 * N), [r.text for r in responses]
    after = await medication(env, med["id"])
    assert (after["stock_quantity"], after["reserved_quantity"]) == (20 - N + 2 * N, 0)
    # Created at 1; each reservation, dispense and restock moved it once.
    assert after["version"] == 1 + 3 * N
    fully = [e["order_fully_dispensed"] for e in await outbox_payloads(env, "medication.dispensed")]
    assert fully == [False] * (N - 1) + [True]


async def test_an_order_cancelled_while_it_is_being_placed_ends_holding_nothing(env):
    med = await make_medication(env, stock=100)
    orders = [order_placed((med, 1), (med, 2)) for _ in range(N)]
    placed, cancelled = subscription("order.placed"), subscription("order.cancelled")
    await env.warm_pool(2 * N)

    async def handle(sub, event_type: str, payload: dict) -> bool:
        envelope = Envelope(type=event_type, payload=payload, occurred_at=env.clock.now())
        async with env.uow() as uow:
            return await handle_once(uow, sub, envelope)

    outcomes = await asyncio.gather(
        *(handle(placed, "order.placed", o) for o in orders),
        *(handle(cancelled, "order.cancelled", order_cancelled(o)) for o in orders),
    )

    assert outcomes == [True] * (2 * N)
    assert await quantities(env, med["id"]) == (100, 0, 100)
    assert await env.count("medication_reservations", "status = 'reserved'") == 0
    assert await env.count("pharmacy_orders", "closed_by = 'order.cancelled'") == N
    # Whichever came first: reserved then released (and said so), or closed first and never reserved.
    released = {e["order_id"] for e in await outbox_payloads(env, "medication.released")}
    reserved = {e["order_id"] for e in await outbox_payloads(env, "medication.reserved")}
    assert released == reserved


async def test_concurrent_dispenses_of_one_order_say_once_that_it_is_fully_dispensed(env):
    meds = [await make_medication(env, stock=5) for _ in range(N)]
    order = await place(env, *[(m, 1) for m in meds])
    await confirm(env, order)
    listed = await reservations(env, order_id=order["order_id"])
    await env.warm_pool(N)

    responses = await asyncio.gather(*(dispense(env, r["id"]) for r in listed))

    assert [r.status_code for r in responses] == [200] * N, [r.text for r in responses]
    fully = [e["order_fully_dispensed"] for e in await outbox_payloads(env, "medication.dispensed")]
    assert sorted(fully) == [False] * (N - 1) + [True]
    assert [await quantities(env, m["id"]) for m in meds] == [(4, 0, 4)] * N
