"""Pharmacy's part of the orders saga: reserve on order.placed (all or nothing), release on order.failed and
order.cancelled, remember closed orders; idempotent, and whole or nothing when the consumer crashes."""

from __future__ import annotations

import uuid

import pytest

from caremesh.pharmacy import service
from caremesh.platform.messaging.consumer import handle_once
from tests.builders.pharmacy import (
    RESERVATIONS,
    assert_problem,
    confirm,
    dispense,
    make_medication,
    of_order,
    order_cancelled,
    order_failed,
    order_placed,
    outbox_payloads,
    patient_user,
    place,
    publish,
    quantities,
    reservations,
    subscription,
)


async def test_every_item_is_reserved_and_announced_in_item_order(env):
    amoxicillin = await make_medication(env, stock=10, unit_price="12.50")
    paracetamol = await make_medication(env, stock=5, unit_price="3.20", unit="tablet")

    order = await place(env, (paracetamol, 5), (amoxicillin, 4))

    assert await quantities(env, amoxicillin["id"]) == (10, 4, 6)
    assert await quantities(env, paracetamol["id"]) == (5, 5, 0)
    listed = await reservations(env, order_id=order["order_id"])
    assert [(r["position"], r["medication_id"], r["quantity"], r["status"]) for r in listed] == [
        (1, paracetamol["id"], 5, "reserved"),
        (2, amoxicillin["id"], 4, "reserved"),
    ]
    assert {(r["patient_id"], r["order_confirmed"], r["failure_reason"]) for r in listed} == {
        (order["patient_id"], False, None)
    }
    [event] = await outbox_payloads(env, "medication.reserved")
    assert event == {
        "order_id": order["order_id"],
        "patient_id": order["patient_id"],
        "reservations": [
            {
                "reservation_id": listed[0]["id"],
                "medication_id": paracetamol["id"],
                "code": paracetamol["code"],
                "name": paracetamol["name"],
                "unit": "tablet",
                "quantity": 5,
                "unit_price": "3.20",
                "currency": "INR",
            },
            {
                "reservation_id": listed[1]["id"],
                "medication_id": amoxicillin["id"],
                "code": amoxicillin["code"],
                "name": amoxicillin["name"],
                "unit": "capsule",
                "quantity": 4,
                "unit_price": "12.50",
                "currency": "INR",
            },
        ],
        "reserved_at": "2030-01-07T06:00:00Z",
    }
    assert await outbox_payloads(env, "medication.reservation_failed") == []


async def test_a_later_item_that_cannot_be_reserved_gives_the_earlier_ones_back(env):
    plenty = await make_medication(env, stock=10)
    other = await make_medication(env, stock=10)
    scarce = await make_medication(env, stock=2)

    order = await place(env, (plenty, 3), (other, 4), (scarce, 3), (plenty, 1))

    assert await quantities(env, plenty["id"]) == (10, 0, 10)
    assert await quantities(env, other["id"]) == (10, 0, 10)
    assert await quantities(env, scarce["id"]) == (2, 0, 2)
    listed = await reservations(env, order_id=order["order_id"])
    # The item after the failing one is never tried.
    assert [(r["medication_id"], r["status"], r["failure_reason"]) for r in listed] == [
        (plenty["id"], "released", None),
        (other["id"], "released", None),
        (scarce["id"], "failed", "INSUFFICIENT_STOCK"),
    ]
    assert all(r["released_at"] == "2030-01-07T06:00:00Z" for r in listed[:2])
    [event] = await outbox_payloads(env, "medication.reservation_failed")
    assert event == {
        "order_id": order["order_id"],
        "patient_id": order["patient_id"],
        "failure_reason": "INSUFFICIENT_STOCK",
        "medication_id": scarce["id"],
        "requested": 3,
        "available": 2,
        "released": [
            {"reservation_id": listed[0]["id"], "medication_id": plenty["id"], "quantity": 3},
            {"reservation_id": listed[1]["id"], "medication_id": other["id"], "quantity": 4},
        ],
        "failed_at": "2030-01-07T06:00:00Z",
    }
    assert await outbox_payloads(env, "medication.reserved") == []


async def test_an_unknown_medication_fails_the_order(env):
    known = await make_medication(env, stock=10)
    unknown = str(uuid.uuid4())

    order = await place(env, (known, 2), (unknown, 1))

    assert await of_order(env, order) == [(known["id"], 2, "released"), (unknown, 1, "failed")]
    assert await quantities(env, known["id"]) == (10, 0, 10)
    [event] = await outbox_payloads(env, "medication.reservation_failed")
    assert (event["failure_reason"], event["medication_id"], event["requested"], event["available"]) == (
        "MEDICATION_NOT_FOUND",
        unknown,
        1,
        0,
    )
    [failed] = await reservations(env, order_id=order["order_id"], status="failed")
    assert failed["failure_reason"] == "MEDICATION_NOT_FOUND"


async def test_the_first_item_failing_releases_nothing(env):
    scarce = await make_medication(env, stock=1)

    order = await place(env, (scarce, 2))

    assert await of_order(env, order) == [(scarce["id"], 2, "failed")]
    [event] = await outbox_payloads(env, "medication.reservation_failed")
    assert (event["released"], event["available"]) == ([], 1)


async def test_one_medication_named_twice_is_two_reservations_against_one_stock(env):
    med = await make_medication(env, stock=5)

    fits = await place(env, (med, 2), (med, 3))
    assert await of_order(env, fits) == [(med["id"], 2, "reserved"), (med["id"], 3, "reserved")]
    assert await quantities(env, med["id"]) == (5, 5, 0)

    await env.client.post(f"/api/v1/medications/{med['id']}/restock", json={"quantity": 4}, headers=env.admin)
    too_much = await place(env, (med, 2), (med, 3))
    assert await of_order(env, too_much) == [(med["id"], 2, "released"), (med["id"], 3, "failed")]
    [event] = await outbox_payloads(env, "medication.reservation_failed")
    assert (event["requested"], event["available"]) == (3, 2)  # what the second item found
    assert await quantities(env, med["id"]) == (9, 5, 4)


async def test_lab_orders_are_not_pharmacys(env):
    med = await make_medication(env, stock=5)
    order = await place(env, type="lab")
    await publish(env, "order.cancelled", order_cancelled(order))
    await env.drain()

    assert await env.count("medication_reservations") == 0
    assert await env.count("pharmacy_orders") == 0
    assert await quantities(env, med["id"]) == (5, 0, 5)


@pytest.mark.parametrize("closing", ["order.failed", "order.cancelled"])
async def test_a_closed_order_gives_back_what_it_holds_but_not_what_was_dispensed(env, closing):
    first = await make_medication(env, stock=10)
    second = await make_medication(env, stock=10)
    order = await place(env, (first, 2), (second, 3))
    await confirm(env, order)
    [handed, held] = await reservations(env, order_id=order["order_id"])
    assert (await dispense(env, handed["id"])).status_code == 200

    payload = order_failed(order) if closing == "order.failed" else order_cancelled(order)
    await publish(env, closing, payload)
    await env.drain()

    assert await of_order(env, order) == [(first["id"], 2, "dispensed"), (second["id"], 3, "released")]
    assert await quantities(env, first["id"]) == (8, 0, 8)
    assert await quantities(env, second["id"]) == (10, 0, 10)
    [event] = await outbox_payloads(env, "medication.released")
    assert event == {
        "order_id": order["order_id"],
        "patient_id": order["patient_id"],
        "reservations": [{"reservation_id": held["id"], "medication_id": second["id"], "quantity": 3}],
        "reason": closing,
        "released_at": "2030-01-07T06:00:00Z",
    }
    assert_problem(await dispense(env, held["id"]), 409, "RESERVATION_NOT_DISPENSABLE")


async def test_closing_an_order_that_holds_nothing_publishes_nothing(env):
    scarce = await make_medication(env, stock=1)
    order = await place(env, (scarce, 5))  # refused: nothing held

    await publish(env, "order.failed", order_failed(order, "INSUFFICIENT_STOCK"))
    await env.drain()

    assert await outbox_payloads(env, "medication.released") == []
    assert await of_order(env, order) == [(scarce["id"], 5, "failed")]


async def test_an_order_cancelled_before_pharmacy_heard_of_it_reserves_nothing(env):
    med = await make_medication(env, stock=10)
    order = order_placed((med, 4))
    # Deliveries are not ordered under retries: the cancellation is handled first.
    await publish(env, "order.cancelled", order_cancelled(order))
    await env.drain()
    await publish(env, "order.placed", order)
    await env.drain()

    assert await of_order(env, order) == []
    assert await quantities(env, med["id"]) == (10, 0, 10)
    for event_type in ("medication.reserved", "medication.reservation_failed", "medication.released"):
        assert await outbox_payloads(env, event_type) == []


async def test_a_redelivered_order_placed_reserves_once(env):
    med = await make_medication(env, stock=10)
    order = await place(env, (med, 4))

    # Once more under the same event id (the inbox refuses it) and under a new one (the reservations exist).
    envelope = await publish(env, "order.placed", order)
    await env.drain()
    async with env.uow() as uow:
        assert await handle_once(uow, subscription("order.placed"), envelope) is False

    assert await of_order(env, order) == [(med["id"], 4, "reserved")]
    assert await quantities(env, med["id"]) == (10, 4, 6)
    assert len(await outbox_payloads(env, "medication.reserved")) == 1


async def test_a_consumer_crashing_halfway_leaves_nothing_reserved_and_the_redelivery_completes_it(env, monkeypatch):
    first = await make_medication(env, stock=10)
    second = await make_medication(env, stock=10)
    reserve_item = service._reserve_item
    calls = 0

    async def crash_on_the_second_item(uow, item, now):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the process died here")
        return await reserve_item(uow, item, now)

    monkeypatch.setattr(service, "_reserve_item", crash_on_the_second_item)
    order = await place(env, (first, 2), (second, 3))

    assert calls == 2
    assert await of_order(env, order) == []
    assert await quantities(env, first["id"]) == (10, 0, 10)
    assert await env.count("pharmacy_orders") == 0
    assert await outbox_payloads(env, "medication.reserved") == []
    assert await env.count("event_deliveries", "consumer = 'pharmacy' AND attempts = 1") == 1

    monkeypatch.setattr(service, "_reserve_item", reserve_item)
    env.clock.advance(seconds=60)  # past the retry's backoff
    await env.drain()

    assert await of_order(env, order) == [(first["id"], 2, "reserved"), (second["id"], 3, "reserved")]
    assert await quantities(env, first["id"]) == (10, 2, 8)
    assert await quantities(env, second["id"]) == (10, 3, 7)
    assert len(await outbox_payloads(env, "medication.reserved")) == 1


async def test_reservations_are_listed_by_filters_and_read_one_by_one(env):
    a = await make_medication(env, stock=10)
    b = await make_medication(env, stock=10)
    first = await place(env, (a, 1), (b, 1))
    env.clock.advance(minutes=1)  # listed oldest first
    second = await place(env, (a, 20))

    assert len(await reservations(env)) == 3
    assert len(await reservations(env, limit=1)) == 3  # every page, one at a time
    assert [r["order_id"] for r in await reservations(env, medication_id=a["id"])] == [
        first["order_id"],
        second["order_id"],
    ]
    assert [r["order_id"] for r in await reservations(env, status="failed")] == [second["order_id"]]
    [one] = await reservations(env, order_id=first["order_id"], medication_id=b["id"])
    response = await env.client.get(f"{RESERVATIONS}/{one['id']}", headers=env.admin)
    assert (response.status_code, response.json()) == (200, one)

    unknown = await env.client.get(f"{RESERVATIONS}/{uuid.uuid4()}", headers=env.admin)
    assert_problem(unknown, 404, "RESERVATION_NOT_FOUND")
    bad = await env.client.get(RESERVATIONS, params={"status": "lost"}, headers=env.admin)
    assert_problem(bad, 422, "VALIDATION_ERROR")


async def test_pharmacists_see_reservations_others_may_not(env):
    med = await make_medication(env, stock=10)
    order = await place(env, (med, 1))
    [reservation] = await reservations(env, order_id=order["order_id"])
    pharmacist = await env.user(["pharmacist"])

    assert len(await reservations(env, headers=pharmacist)) == 1
    for headers in (await env.user(["receptionist"]), await patient_user(env), await env.user(["doctor"])):
        assert_problem(await env.client.get(RESERVATIONS, headers=headers), 403, "FORBIDDEN")
        assert_problem(await env.client.get(f"{RESERVATIONS}/{reservation['id']}", headers=headers), 403, "FORBIDDEN")
