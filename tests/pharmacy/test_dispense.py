"""Dispensing: a reserved item of a confirmed order leaves the stock; anything else is refused, saying why."""

from __future__ import annotations

import uuid

from tests.builders.pharmacy import (
    assert_problem,
    confirm,
    dispense,
    make_medication,
    order_cancelled,
    outbox_payloads,
    patient_user,
    place,
    publish,
    quantities,
    reservations,
)


async def test_dispensing_takes_the_quantity_off_the_stock_and_off_the_reserved(env):
    med = await make_medication(env, stock=10)
    order = await place(env, (med, 4))
    await confirm(env, order)
    [reservation] = await reservations(env, order_id=order["order_id"])
    assert reservation["order_confirmed"] is True
    env.clock.advance(minutes=5)

    response = await dispense(env, reservation["id"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["status"], body["dispensed_at"]) == (
        reservation["id"],
        "dispensed",
        "2030-01-07T06:05:00Z",
    )
    assert await quantities(env, med["id"]) == (6, 0, 6)
    [event] = await outbox_payloads(env, "medication.dispensed")
    assert event == {
        "order_id": order["order_id"],
        "patient_id": order["patient_id"],
        "reservation_id": reservation["id"],
        "medication_id": med["id"],
        "quantity": 4,
        "order_fully_dispensed": True,
        "dispensed_at": "2030-01-07T06:05:00Z",
    }


async def test_the_order_is_fully_dispensed_with_its_last_standing_reservation(env):
    first = await make_medication(env, stock=10)
    second = await make_medication(env, stock=10)
    order = await place(env, (first, 1), (second, 2), (first, 3))
    await confirm(env, order)
    listed = await reservations(env, order_id=order["order_id"])

    for reservation in listed:
        assert (await dispense(env, reservation["id"])).status_code == 200

    assert [e["order_fully_dispensed"] for e in await outbox_payloads(env, "medication.dispensed")] == [
        False,
        False,
        True,
    ]
    assert await quantities(env, first["id"]) == (6, 0, 6)
    assert await quantities(env, second["id"]) == (8, 0, 8)


async def test_dispensing_twice_is_refused_and_takes_the_stock_once(env):
    med = await make_medication(env, stock=10)
    order = await place(env, (med, 4))
    await confirm(env, order)
    [reservation] = await reservations(env, order_id=order["order_id"])
    assert (await dispense(env, reservation["id"])).status_code == 200

    body = assert_problem(await dispense(env, reservation["id"]), 409, "RESERVATION_NOT_DISPENSABLE")

    assert "already dispensed" in body["detail"]
    assert await quantities(env, med["id"]) == (6, 0, 6)
    assert len(await outbox_payloads(env, "medication.dispensed")) == 1


async def test_an_order_not_yet_confirmed_is_not_dispensed(env):
    med = await make_medication(env, stock=10)
    order = await place(env, (med, 4))
    [reservation] = await reservations(env, order_id=order["order_id"])

    body = assert_problem(await dispense(env, reservation["id"]), 409, "RESERVATION_NOT_DISPENSABLE")

    assert "not confirmed" in body["detail"]
    assert await quantities(env, med["id"]) == (10, 4, 6)
    assert (await reservations(env, order_id=order["order_id"]))[0]["status"] == "reserved"
    assert await outbox_payloads(env, "medication.dispensed") == []


async def test_released_and_failed_reservations_are_not_dispensed(env):
    med = await make_medication(env, stock=5)
    scarce = await make_medication(env, stock=1)
    cancelled = await place(env, (med, 2))
    await confirm(env, cancelled)
    await publish(env, "order.cancelled", order_cancelled(cancelled))
    await env.drain()
    refused = await place(env, (med, 1), (scarce, 2))

    [released] = await reservations(env, order_id=cancelled["order_id"])
    body = assert_problem(await dispense(env, released["id"]), 409, "RESERVATION_NOT_DISPENSABLE")
    assert "released" in body["detail"]
    for reservation in await reservations(env, order_id=refused["order_id"]):
        body = assert_problem(await dispense(env, reservation["id"]), 409, "RESERVATION_NOT_DISPENSABLE")
        assert reservation["status"] in body["detail"]

    assert await quantities(env, med["id"]) == (5, 0, 5)
    assert await quantities(env, scarce["id"]) == (1, 0, 1)
    assert await outbox_payloads(env, "medication.dispensed") == []


async def test_an_unknown_reservation_is_404(env):
    response = await dispense(env, str(uuid.uuid4()))
    assert_problem(response, 404, "RESERVATION_NOT_FOUND")


async def test_only_pharmacists_dispense(env):
    med = await make_medication(env, stock=10)
    order = await place(env, (med, 4))
    await confirm(env, order)
    [reservation] = await reservations(env, order_id=order["order_id"])

    for headers in (await env.user(["receptionist"]), await patient_user(env), await env.user(["doctor"])):
        assert_problem(await dispense(env, reservation["id"], headers=headers), 403, "FORBIDDEN")
    assert await quantities(env, med["id"]) == (10, 4, 6)

    response = await dispense(env, reservation["id"], headers=await env.user(["pharmacist"]))
    assert response.status_code == 200, response.text
    assert await quantities(env, med["id"]) == (6, 0, 6)
