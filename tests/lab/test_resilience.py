"""A consumer crashing halfway leaves nothing booked; the redelivery completes the booking."""

from __future__ import annotations

from caremesh.lab import service
from tests.builders.lab import booked, lab_orders, make_lab_test, place, placed, today
from tests.builders.patients import make_patient
from tests.harness import outbox_payloads


async def test_a_crash_after_the_first_item_leaves_nothing_booked_and_the_retry_books_all(env, monkeypatch):
    first, second = await make_lab_test(env, daily_capacity=1), await make_lab_test(env, daily_capacity=1)
    patient = await make_patient(env)
    order = placed(patient["id"], first, second)
    capacity = service.BOOKINGS.capacity
    take_slot, calls = capacity.take, []

    async def crash_on_the_second(uow, test, day):
        calls.append(test.id)
        if len(calls) == 2:
            raise ConnectionError("database went away")
        return await take_slot(uow, test, day)

    monkeypatch.setattr(capacity, "take", crash_on_the_second)
    await place(env, order)

    assert len(calls) == 2  # the first item was booked in the transaction that then failed
    assert await env.count("lab_orders") == 0
    assert await env.count("lab_test_days") == 0
    assert await env.count("lab_known_orders") == 0
    assert await env.count("event_deliveries", "consumer = 'lab' AND attempts = 1") == 1
    assert await outbox_payloads(env, "lab.scheduled") == []

    monkeypatch.setattr(capacity, "take", take_slot)
    env.clock.advance(seconds=5)  # past the retry's backoff
    await env.drain()

    rows = await lab_orders(env, order_id=order["order_id"])
    assert [(r["lab_test_id"], r["status"]) for r in rows] == [(first["id"], "scheduled"), (second["id"], "scheduled")]
    assert (await booked(env, first["id"], today(env)), await booked(env, second["id"], today(env))) == (1, 1)
    assert len(await outbox_payloads(env, "lab.scheduled")) == 1
    assert await env.count("event_deliveries") == 0
    assert await env.count("dead_letters") == 0
