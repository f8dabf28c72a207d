"""A lab order through the saga: booked within capacity, invoiced, confirmed; no capacity; results complete it."""

from __future__ import annotations

from datetime import timedelta

from tests.builders.notifications import list_notifications
from tests.builders.orders import (
    LAB_ORDERS,
    cancel,
    invoices_of,
    lab_order,
    lab_orders,
    make_lab_test,
    order,
    parties,
    place_order,
    steps,
)
from tests.harness import assert_problem

RESULT = {"values": [{"name": "Haemoglobin", "value": "13.5", "unit": "g/dL", "reference_range": "12-16"}]}


async def test_a_lab_order_is_booked_invoiced_and_confirmed(env):
    cbc = await make_lab_test(env, price="350.00", daily_capacity=1)
    lipids = await make_lab_test(env, price="820.50", daily_capacity=3)
    patient, practitioner = await parties(env)
    earlier, _ = await parties(env)
    await place_order(env, lab_order(earlier, practitioner, cbc))  # takes today's only CBC slot
    await env.drain()

    placed = await place_order(env, lab_order(patient, practitioner, cbc, lipids))
    await env.drain()

    confirmed = await order(env, placed["id"])
    assert confirmed["status"] == "confirmed"
    today = env.clock.now().date()
    booked = {o["lab_test_id"]: o for o in await lab_orders(env, placed["id"])}
    assert booked[cbc["id"]]["scheduled_date"] == (today + timedelta(days=1)).isoformat()
    assert booked[lipids["id"]]["scheduled_date"] == today.isoformat()
    assert {o["status"] for o in booked.values()} == {"scheduled"}
    [invoice] = await invoices_of(env, placed["id"])
    assert [(line["code"], line["quantity"], line["amount"]) for line in invoice["lines"]] == [
        (cbc["code"], 1, "350.00"),
        (lipids["code"], 1, "820.50"),
    ]
    # 1170.50 + GST 12 % (140.46) = 1310.96; no insurance: the patient pays it all.
    assert (invoice["tax_amount"], invoice["total"], invoice["patient_amount"]) == ("140.46", "1310.96", "1310.96")
    assert await steps(env, placed["id"]) == ["placed", "lab_scheduled", "invoiced", "confirmed"]


async def test_no_capacity_within_14_days_fails_the_order_and_frees_the_earlier_bookings(env):
    free = await make_lab_test(env, daily_capacity=2)
    closed = await make_lab_test(env, daily_capacity=0)
    patient, practitioner = await parties(env)

    placed = await place_order(env, lab_order(patient, practitioner, free, closed))
    await env.drain()

    failed = await order(env, placed["id"])
    assert (failed["status"], failed["failure_reason"]) == ("failed", "NO_LAB_CAPACITY")
    assert [o["status"] for o in await lab_orders(env, placed["id"])] == ["cancelled"]
    assert await invoices_of(env, placed["id"]) == []
    assert await steps(env, placed["id"]) == ["placed", "lab_scheduling_failed", "lab_orders_cancelled", "failed"]
    # The patient hears that the order failed, once.
    messages = await list_notifications(env, recipient_id=patient["id"], channel="email")
    assert [m["template"] for m in messages] == ["order_failed.email"]


async def test_results_complete_the_order_and_tell_the_patient(env):
    cbc = await make_lab_test(env)
    patient, practitioner = await parties(env)
    placed = await place_order(env, lab_order(patient, practitioner, cbc))
    await env.drain()
    [booked] = await lab_orders(env, placed["id"])

    response = await env.client.post(f"{LAB_ORDERS}/{booked['id']}/result", json=RESULT, headers=env.admin)
    assert response.status_code == 200, response.text
    await env.drain()

    assert (await order(env, placed["id"]))["status"] == "completed"
    assert (await steps(env, placed["id"]))[-2:] == ["resulted", "completed"]
    messages = await list_notifications(env, recipient_id=patient["id"], channel="email")
    ready = [m for m in messages if m["template"] == "lab_result_ready.email"]
    assert len(ready) == 1
    assert "13.5" not in ready[0]["body"]  # results stay in the lab: the message says only that they are ready
    assert_problem(await cancel(env, placed["id"]), 409, "ORDER_NOT_CANCELLABLE")


async def test_cancelling_a_lab_order_frees_its_slot_and_voids_the_invoice(env):
    cbc = await make_lab_test(env, daily_capacity=1)
    patient, practitioner = await parties(env)
    placed = await place_order(env, lab_order(patient, practitioner, cbc))
    await env.drain()

    assert (await cancel(env, placed["id"])).status_code == 200
    await env.drain()

    assert [o["status"] for o in await lab_orders(env, placed["id"])] == ["cancelled"]
    [invoice] = await invoices_of(env, placed["id"])
    assert invoice["status"] == "void"
    assert (await steps(env, placed["id"]))[-3:] == ["invoice_voided", "cancelled", "lab_orders_cancelled"]
    again = await place_order(env, lab_order(patient, practitioner, cbc))
    await env.drain()
    [booked] = await lab_orders(env, again["id"])
    assert booked["scheduled_date"] == env.clock.now().date().isoformat()  # today's slot is free again
