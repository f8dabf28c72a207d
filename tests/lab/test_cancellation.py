"""order.failed and order.cancelled give back the order's slots; a late order.placed books nothing."""

from __future__ import annotations

from tests.builders.lab import (
    booked,
    cancel,
    confirm,
    day,
    fail,
    lab_orders,
    make_lab_test,
    place,
    placed,
    result,
    today,
)
from tests.builders.patients import make_patient
from tests.harness import outbox_payloads


async def test_cancelling_frees_the_slot_for_the_next_order(env):
    test = await make_lab_test(env, daily_capacity=1)
    patient = await make_patient(env)
    order = placed(patient["id"], test)
    await place(env, order)
    [booking] = await lab_orders(env, order_id=order["order_id"])

    await cancel(env, order)

    [cancelled] = await lab_orders(env, order_id=order["order_id"])
    assert (cancelled["status"], cancelled["cancel_reason"], cancelled["cancelled_at"]) == (
        "cancelled",
        "order.cancelled",
        "2030-01-07T06:00:00Z",
    )
    assert await booked(env, test["id"], today(env)) == 0
    assert await outbox_payloads(env, "lab.cancelled") == [
        {
            "order_id": order["order_id"],
            "patient_id": patient["id"],
            "lab_orders": [{"lab_order_id": booking["id"], "lab_test_id": test["id"], "scheduled_date": day(env, 0)}],
            "reason": "order.cancelled",
            "cancelled_at": "2030-01-07T06:00:00Z",
        }
    ]
    again = placed(patient["id"], test)
    await place(env, again)
    assert [o["scheduled_date"] for o in await lab_orders(env, order_id=again["order_id"])] == [day(env, 0)]


async def test_a_failed_order_cancels_what_is_scheduled_and_keeps_what_is_resulted(env):
    test = await make_lab_test(env, daily_capacity=3)
    patient = await make_patient(env)
    order = placed(patient["id"], test, test)
    await place(env, order)
    await confirm(env, order)
    first, second = await lab_orders(env, order_id=order["order_id"])
    assert (await result(env, first["id"])).status_code == 200

    await fail(env, order)

    rows = {o["id"]: o["status"] for o in await lab_orders(env, order_id=order["order_id"])}
    assert rows == {first["id"]: "resulted", second["id"]: "cancelled"}
    [event] = await outbox_payloads(env, "lab.cancelled")
    assert (event["reason"], [o["lab_order_id"] for o in event["lab_orders"]]) == ("order.failed", [second["id"]])
    assert await booked(env, test["id"], today(env)) == 1


async def test_closing_twice_or_with_nothing_booked_publishes_nothing_more(env):
    test = await make_lab_test(env)
    patient = await make_patient(env)
    order = placed(patient["id"], test)
    await place(env, order)
    await fail(env, order)
    await cancel(env, order)
    assert len(await outbox_payloads(env, "lab.cancelled")) == 1
    assert await env.count("lab_known_orders", "close_reason = 'order.failed'") == 1


async def test_order_cancelled_before_order_placed_books_nothing(env):
    test = await make_lab_test(env, daily_capacity=1)
    patient = await make_patient(env)
    order = placed(patient["id"], test)

    await cancel(env, order)
    await place(env, order)

    assert await lab_orders(env, order_id=order["order_id"]) == []
    assert await env.count("lab_test_days") == 0
    assert await outbox_payloads(env, "lab.scheduled") == []
    assert await outbox_payloads(env, "lab.cancelled") == []
    assert await outbox_payloads(env, "lab.scheduling_failed") == []


async def test_a_refused_order_stays_closed_when_order_placed_comes_again(env):
    test = await make_lab_test(env, daily_capacity=0)
    patient = await make_patient(env)
    order = placed(patient["id"], test)
    await place(env, order)
    await env.client.patch(f"/api/v1/lab-tests/{test['id']}", json={"daily_capacity": 5}, headers=env.admin)

    await place(env, order)  # another event announcing the same order, now that there is room

    assert await lab_orders(env, order_id=order["order_id"]) == []
    assert len(await outbox_payloads(env, "lab.scheduling_failed")) == 1
    assert await outbox_payloads(env, "lab.scheduled") == []
