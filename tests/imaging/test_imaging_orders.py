"""An imaging order through the saga: each study booked on its first free day within 14 days, invoiced, confirmed;
no capacity fails it with everything given back; reports complete it and tell the patient; cancelling frees the
slots and voids the invoice."""

from __future__ import annotations

from datetime import timedelta

from tests.builders.imaging import REPORT, booked, imaging_order, imaging_orders, make_study, report
from tests.builders.notifications import list_notifications
from tests.builders.orders import cancel, invoices_of, order, parties, place_order, steps
from tests.harness import assert_problem


async def test_an_imaging_order_is_booked_on_the_first_free_day_invoiced_and_confirmed(env):
    chest = await make_study(env, code="XR-CHEST", name="Chest X-ray", price="1200.00", daily_capacity=1)
    knee = await make_study(env, code="MR-KNEE", name="MRI knee", modality="MR", price="8000.50", daily_capacity=2)
    patient, practitioner = await parties(env)
    earlier, _ = await parties(env)
    await place_order(env, imaging_order(earlier, practitioner, chest))  # takes today's only chest X-ray slot
    await env.drain()

    placed = await place_order(env, imaging_order(patient, practitioner, chest, knee))
    await env.drain()

    confirmed = await order(env, placed["id"])
    assert (confirmed["type"], confirmed["status"]) == ("imaging", "confirmed")
    assert confirmed["items"][0]["imaging_study_id"] == chest["id"]
    today = env.clock.now().date()
    rows = await imaging_orders(env, order_id=placed["id"])
    assert [(r["imaging_study_id"], r["scheduled_date"], r["status"], r["report"]) for r in rows] == [
        (chest["id"], (today + timedelta(days=1)).isoformat(), "scheduled", None),
        (knee["id"], today.isoformat(), "scheduled", None),
    ]
    assert (await booked(env, chest["id"], today), await booked(env, chest["id"], today + timedelta(days=1))) == (1, 1)
    [invoice] = await invoices_of(env, placed["id"])
    assert [(line["code"], line["description"], line["amount"]) for line in invoice["lines"]] == [
        ("XR-CHEST", "Chest X-ray (XR)", "1200.00"),
        ("MR-KNEE", "MRI knee (MR)", "8000.50"),
    ]
    assert invoice["subtotal"] == "9200.50"
    assert await steps(env, placed["id"]) == ["placed", "imaging_scheduled", "invoiced", "confirmed"]


async def test_no_capacity_within_14_days_fails_the_order_and_gives_everything_back(env):
    free = await make_study(env, daily_capacity=2)
    full = await make_study(env, daily_capacity=1)
    patient, practitioner = await parties(env)
    for _ in range(14):  # every day of the window taken
        await place_order(env, imaging_order(patient, practitioner, full))
    await env.drain()

    placed = await place_order(env, imaging_order(patient, practitioner, free, full))
    await env.drain()

    failed = await order(env, placed["id"])
    assert (failed["status"], failed["failure_reason"]) == ("failed", "NO_IMAGING_CAPACITY")
    [given_back] = await imaging_orders(env, order_id=placed["id"])
    assert (given_back["imaging_study_id"], given_back["status"]) == (free["id"], "cancelled")
    assert await booked(env, free["id"], env.clock.now().date()) == 0
    assert await invoices_of(env, placed["id"]) == []
    assert await steps(env, placed["id"]) == [
        "placed",
        "imaging_scheduling_failed",
        "imaging_orders_cancelled",
        "failed",
    ]
    messages = await list_notifications(env, recipient_id=patient["id"], channel="email")
    assert [m["template"] for m in messages if m["template"] == "order_failed.email"] == ["order_failed.email"]


async def test_an_unknown_study_is_refused_when_placing(env):
    patient, practitioner = await parties(env)
    missing = {"id": "00000000-0000-4000-8000-000000000000"}
    assert_problem(
        await env.client.post("/api/v1/orders", json=imaging_order(patient, practitioner, missing), headers=env.admin),
        404,
        "IMAGING_STUDY_NOT_FOUND",
    )
    wrong = {**imaging_order(patient, practitioner, missing), "items": [{"lab_test_id": missing["id"]}]}
    assert_problem(await env.client.post("/api/v1/orders", json=wrong, headers=env.admin), 422, "VALIDATION_ERROR")


async def test_reports_complete_the_order_and_tell_the_patient(env):
    chest, knee = await make_study(env), await make_study(env, modality="MR")
    patient, practitioner = await parties(env)
    placed = await place_order(env, imaging_order(patient, practitioner, chest, knee))
    await env.drain()
    first, second = await imaging_orders(env, order_id=placed["id"])
    radiologist = await env.user(["radiologist"])

    reported = await report(env, first["id"], headers=radiologist)
    assert reported.status_code == 200, reported.text
    assert reported.json()["status"] == "reported"
    assert {k: reported.json()["report"][k] for k in REPORT} == REPORT
    await env.drain()
    assert (await order(env, placed["id"]))["status"] == "confirmed"  # one study still to report
    assert_problem(await report(env, first["id"], headers=radiologist), 409, "IMAGING_ORDER_NOT_REPORTABLE")

    doctor = await env.user(["doctor"])
    assert (await report(env, second["id"], headers=doctor)).status_code == 200
    await env.drain()

    assert (await order(env, placed["id"]))["status"] == "completed"
    assert (await steps(env, placed["id"]))[-3:] == ["reported", "reported", "completed"]
    messages = await list_notifications(env, recipient_id=patient["id"], channel="email")
    ready = [m for m in messages if m["template"] == "imaging_reported.email"]
    assert len(ready) == 2
    assert "consolidation" not in ready[0]["body"]  # the report stays in imaging: the message says it is ready
    assert_problem(await cancel(env, placed["id"]), 409, "ORDER_NOT_CANCELLABLE")


async def test_an_imaging_order_of_an_order_not_yet_confirmed_cannot_be_reported(env):
    study = await make_study(env)
    patient, practitioner = await parties(env)
    placed = await place_order(env, imaging_order(patient, practitioner, study))
    await env.drain()
    [booking] = await imaging_orders(env, order_id=placed["id"])
    assert (await cancel(env, placed["id"])).status_code == 200
    await env.drain()
    refused = assert_problem(await report(env, booking["id"]), 409, "IMAGING_ORDER_NOT_REPORTABLE")
    assert "cancelled" in refused["detail"]


async def test_cancelling_frees_the_slots_and_voids_the_invoice(env):
    study = await make_study(env, daily_capacity=1)
    patient, practitioner = await parties(env)
    placed = await place_order(env, imaging_order(patient, practitioner, study))
    await env.drain()

    assert (await cancel(env, placed["id"])).status_code == 200
    await env.drain()

    [cancelled] = await imaging_orders(env, order_id=placed["id"])
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "order.cancelled")
    [invoice] = await invoices_of(env, placed["id"])
    assert invoice["status"] == "void"
    assert (await steps(env, placed["id"]))[-3:] == ["invoice_voided", "cancelled", "imaging_orders_cancelled"]
    assert await booked(env, study["id"], env.clock.now().date()) == 0
    again = await place_order(env, imaging_order(patient, practitioner, study))
    await env.drain()
    [rebooked] = await imaging_orders(env, order_id=again["id"])
    assert rebooked["scheduled_date"] == env.clock.now().date().isoformat()  # today's slot is free again
