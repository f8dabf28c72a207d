"""The order saga is correct whatever order its events are handled in, and however often: each pair of events
of one order that a consumer may see reordered (several deliveries in flight, a redelivery) is handed to the
real consumer in every order, with duplicates, and ends where the natural order ends.

Where a step cannot be handled before another (a compensation before what it gives back, an item done before
the order is confirmed, the last item before the others), the consumer refuses it as too early and it is
retried; where it can (pharmacy and lab hearing of a cancellation before the order), it reaches the state the
natural order would: nothing held for a closed order."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from caremesh.pharmacy.contract import MedicationDispensed
from tests.builders import deliveries
from tests.builders.deliveries import hand, hand_in_order, one, run_except, settle, waiting
from tests.builders.lab import result
from tests.builders.orders import (
    cancel,
    invoices_of,
    lab_order,
    lab_orders,
    make_lab_test,
    medication,
    order,
    parties,
    place_order,
    prescription,
    reservations,
    steps,
    stock_medication,
)
from tests.builders.pharmacy import dispense
from tests.harness import assert_problem

# Orders of handing a pair (first, second) to its consumer: the natural one, reversed, and with duplicates.
SEQUENCES = {
    "natural": (0, 1),
    "reversed": (1, 0),
    "each twice": (0, 0, 1, 1),
    "reversed, duplicated": (1, 0, 1, 0),
}
sequences = pytest.mark.parametrize("sequence", list(SEQUENCES.values()), ids=list(SEQUENCES))


async def _cancelled(env: Any, order_id: str) -> None:
    response = await cancel(env, order_id)
    assert response.status_code == 200, response.text


async def _dead_letters(env: Any) -> int:
    return await env.count("dead_letters")


# --- what orders hears from pharmacy and lab ----------------------------------------------------------


@sequences
async def test_stock_released_before_it_was_reserved_is_recorded_after_it(env, sequence):
    """A pending order is cancelled while pharmacy's medication.reserved is still queued for orders: orders then
    has medication.reserved and medication.released to handle; the release waits for the reservation."""
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 4)))
    await run_except(env, ("orders", "medication.reserved"))
    await _cancelled(env, placed["id"])
    await run_except(env, ("orders", "medication.reserved"), ("orders", "medication.released"))
    pair = [await one(env, "orders", "medication.reserved"), await one(env, "orders", "medication.released")]

    await hand_in_order(env, [pair[i] for i in sequence])
    await settle(env)

    after = await order(env, placed["id"])
    assert after["status"] == "cancelled"
    assert await steps(env, placed["id"]) == ["placed", "cancelled", "stock_reserved", "reservations_released"]
    assert [r["status"] for r in await reservations(env, placed["id"])] == ["released"]
    assert (await medication(env, amoxicillin["id"]))["available_quantity"] == 10
    assert await invoices_of(env, placed["id"]) == []
    assert await _dead_letters(env) == 0


@sequences
async def test_lab_orders_cancelled_before_they_were_scheduled_are_recorded_after_it(env, sequence):
    cbc = await make_lab_test(env, daily_capacity=1)
    patient, practitioner = await parties(env)
    placed = await place_order(env, lab_order(patient, practitioner, cbc))
    await run_except(env, ("orders", "lab.scheduled"))
    await _cancelled(env, placed["id"])
    await run_except(env, ("orders", "lab.scheduled"), ("orders", "lab.cancelled"))
    pair = [await one(env, "orders", "lab.scheduled"), await one(env, "orders", "lab.cancelled")]

    await hand_in_order(env, [pair[i] for i in sequence])
    await settle(env)

    assert (await order(env, placed["id"]))["status"] == "cancelled"
    assert await steps(env, placed["id"]) == ["placed", "cancelled", "lab_scheduled", "lab_orders_cancelled"]
    assert [o["status"] for o in await lab_orders(env, placed["id"])] == ["cancelled"]
    # the slot went back: another order books the only one of the day again
    again = await place_order(env, lab_order(patient, practitioner, cbc))
    await settle(env)
    first = (await lab_orders(env, placed["id"]))[0]
    assert (await lab_orders(env, again["id"]))[0]["scheduled_date"] == first["scheduled_date"]
    assert await _dead_letters(env) == 0


@sequences
async def test_the_last_item_dispensed_completes_the_order_only_after_the_others(env, sequence):
    amoxicillin = await stock_medication(env, stock=10)
    paracetamol = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 2), (paracetamol, 1)))
    await settle(env)
    for reservation in await reservations(env, placed["id"]):
        assert (await dispense(env, reservation["id"])).status_code == 200
    await run_except(env, ("orders", "medication.dispensed"))
    pair = sorted(
        await waiting(env, "orders", "medication.dispensed"), key=lambda d: d.envelope.payload["order_fully_dispensed"]
    )
    assert [d.envelope.payload["order_fully_dispensed"] for d in pair] == [False, True]

    await hand_in_order(env, [pair[i] for i in sequence])
    await settle(env)

    after = await order(env, placed["id"])
    assert after["status"] == "completed"
    assert (await steps(env, placed["id"]))[-3:] == ["dispensed", "dispensed", "completed"]
    assert await env.count("outbox_events", "type = 'order.completed'") == 1
    assert await _dead_letters(env) == 0


@sequences
async def test_a_lab_result_before_the_others_completes_the_order_only_after_them(env, sequence):
    cbc, lipids = await make_lab_test(env), await make_lab_test(env)
    patient, practitioner = await parties(env)
    placed = await place_order(env, lab_order(patient, practitioner, cbc, lipids))
    await settle(env)
    for booked in await lab_orders(env, placed["id"]):
        assert (await result(env, booked["id"])).status_code == 200
    await run_except(env, ("orders", "lab.result_ready"))
    pair = await waiting(env, "orders", "lab.result_ready")
    assert sorted(d.envelope.payload["order_fully_resulted"] for d in pair) == [False, True]
    pair.sort(key=lambda d: d.envelope.payload["order_fully_resulted"])

    await hand_in_order(env, [pair[i] for i in sequence])
    await settle(env)

    assert (await order(env, placed["id"]))["status"] == "completed"
    assert (await steps(env, placed["id"]))[-3:] == ["resulted", "resulted", "completed"]
    assert await _dead_letters(env) == 0


@sequences
async def test_an_item_done_before_the_order_is_confirmed_waits_for_the_confirmation(env, sequence):
    """Pharmacy dispenses only for confirmed orders, so orders never hears medication.dispensed first on its own;
    here the answer is forged to overtake medication.reserved, and orders puts it off until it confirms."""
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 1)))
    await run_except(env, ("orders", "medication.reserved"))
    (held,) = await reservations(env, placed["id"])
    async with env.uow() as uow:
        uow.publish(
            MedicationDispensed(
                order_id=uuid.UUID(placed["id"]),
                patient_id=uuid.UUID(patient["id"]),
                reservation_id=uuid.UUID(held["id"]),
                medication_id=uuid.UUID(amoxicillin["id"]),
                quantity=1,
                order_fully_dispensed=True,
                dispensed_at=env.clock.now(),
            )
        )
    await deliveries.relay(env)
    pair = [await one(env, "orders", "medication.reserved"), await one(env, "orders", "medication.dispensed")]

    await hand_in_order(env, [pair[i] for i in sequence])
    await settle(env)

    assert (await order(env, placed["id"]))["status"] == "completed"
    assert await steps(env, placed["id"]) == [
        "placed",
        "stock_reserved",
        "invoiced",
        "confirmed",
        "dispensed",
        "completed",
    ]
    assert len(await invoices_of(env, placed["id"])) == 1
    assert await _dead_letters(env) == 0


async def test_a_step_too_early_for_ever_is_dead_lettered_after_the_early_attempts(env):
    """The predecessor never comes (here: it is held): the refused delivery ends in the dead letters, after
    consumer_max_early_attempts, not after consumer_max_attempts."""
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 4)))
    await run_except(env, ("orders", "medication.reserved"))
    await _cancelled(env, placed["id"])
    await run_except(env, ("orders", "medication.reserved"), ("orders", "medication.released"))
    released = await one(env, "orders", "medication.released")
    worker = env.app.state.workers.consumer
    assert worker.max_attempts < worker.max_early_attempts
    for _ in range(worker.max_early_attempts - 1):
        await hand(env, released)
    assert (await one(env, "orders", "medication.released")).event_id == released.event_id
    await hand(env, released)
    assert await waiting(env, "orders", "medication.released") == []
    assert await _dead_letters(env) == 1


# --- what pharmacy and lab hear from orders -------------------------------------------------------------


@sequences
async def test_pharmacy_hearing_of_a_cancellation_before_the_order_holds_nothing_for_it(env, sequence):
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 4)))
    await deliveries.relay(env)
    await _cancelled(env, placed["id"])  # still pending: pharmacy has not heard of the order
    await deliveries.relay(env)
    pair = [await one(env, "pharmacy", "order.placed"), await one(env, "pharmacy", "order.cancelled")]

    await hand_in_order(env, [pair[i] for i in sequence])
    await settle(env)

    assert (await order(env, placed["id"]))["status"] == "cancelled"
    stock = await medication(env, amoxicillin["id"])
    assert (stock["available_quantity"], stock["reserved_quantity"]) == (10, 0)
    assert all(r["status"] == "released" for r in await reservations(env, placed["id"]))
    assert await invoices_of(env, placed["id"]) == []
    assert await _dead_letters(env) == 0


@sequences
async def test_pharmacy_hearing_of_a_cancellation_before_the_confirmation_releases_and_refuses_dispensing(
    env, sequence
):
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 4)))
    await run_except(env, ("pharmacy", "order.confirmed"))
    assert (await order(env, placed["id"]))["status"] == "confirmed"
    await _cancelled(env, placed["id"])
    await deliveries.relay(env)
    pair = [await one(env, "pharmacy", "order.confirmed"), await one(env, "pharmacy", "order.cancelled")]

    await hand_in_order(env, [pair[i] for i in sequence])
    await settle(env)

    (held,) = await reservations(env, placed["id"])
    assert held["status"] == "released"
    assert (await medication(env, amoxicillin["id"]))["available_quantity"] == 10
    assert_problem(await dispense(env, held["id"]), 409, "RESERVATION_NOT_DISPENSABLE")
    assert [i["status"] for i in await invoices_of(env, placed["id"])] == ["void"]
    assert (await steps(env, placed["id"]))[-1] == "reservations_released"
    assert await _dead_letters(env) == 0


@sequences
async def test_lab_hearing_of_a_cancellation_before_the_order_books_nothing_for_it(env, sequence):
    cbc = await make_lab_test(env, daily_capacity=1)
    patient, practitioner = await parties(env)
    placed = await place_order(env, lab_order(patient, practitioner, cbc))
    await deliveries.relay(env)
    await _cancelled(env, placed["id"])
    await deliveries.relay(env)
    pair = [await one(env, "lab", "order.placed"), await one(env, "lab", "order.cancelled")]

    await hand_in_order(env, [pair[i] for i in sequence])
    await settle(env)

    assert (await order(env, placed["id"]))["status"] == "cancelled"
    assert all(o["status"] == "cancelled" for o in await lab_orders(env, placed["id"]))
    # no slot is held for it: every booked slot of the test is a scheduled lab order's
    assert await env.count("lab_test_days", "booked > 0") == 0
    assert await _dead_letters(env) == 0


@sequences
async def test_lab_hearing_of_a_cancellation_before_the_confirmation_cancels_and_refuses_results(env, sequence):
    cbc = await make_lab_test(env)
    patient, practitioner = await parties(env)
    placed = await place_order(env, lab_order(patient, practitioner, cbc))
    await run_except(env, ("lab", "order.confirmed"))
    assert (await order(env, placed["id"]))["status"] == "confirmed"
    await _cancelled(env, placed["id"])
    await deliveries.relay(env)
    pair = [await one(env, "lab", "order.confirmed"), await one(env, "lab", "order.cancelled")]

    await hand_in_order(env, [pair[i] for i in sequence])
    await settle(env)

    (booked,) = await lab_orders(env, placed["id"])
    assert booked["status"] == "cancelled"
    assert_problem(await result(env, booked["id"]), 409, "LAB_ORDER_NOT_RESULTABLE")
    assert [i["status"] for i in await invoices_of(env, placed["id"])] == ["void"]
    assert (await steps(env, placed["id"]))[-1] == "lab_orders_cancelled"
    assert await _dead_letters(env) == 0
