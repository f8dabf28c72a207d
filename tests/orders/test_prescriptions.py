"""A prescription through the saga: reserved, invoiced, confirmed; refused and compensated; cancelled; completed."""

from __future__ import annotations

from tests.builders.orders import (
    INSURED,
    ORDERS,
    RESERVATIONS,
    cancel,
    invoices_of,
    medication,
    order,
    parties,
    place_order,
    prescription,
    reservations,
    steps,
    stock_medication,
)
from tests.builders.payments import make_payment, metric
from tests.harness import assert_problem, every_page, outbox_payloads


async def test_a_prescription_is_reserved_invoiced_and_confirmed(env):
    amoxicillin = await stock_medication(env, stock=10, unit_price="12.50")
    paracetamol = await stock_medication(env, stock=5, unit_price="3.20")
    patient, practitioner = await parties(env, **INSURED)

    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 4), (paracetamol, 5)))
    assert (placed["status"], placed["invoice_id"], placed["failure_reason"]) == ("pending", None, None)
    await env.drain()

    confirmed = await order(env, placed["id"])
    assert confirmed["status"] == "confirmed"
    assert (await medication(env, amoxicillin["id"]))["available_quantity"] == 6
    assert (await medication(env, paracetamol["id"]))["available_quantity"] == 0
    assert sorted((r["quantity"], r["status"]) for r in await reservations(env, placed["id"])) == [
        (4, "reserved"),
        (5, "reserved"),
    ]
    [invoice] = await invoices_of(env, placed["id"])
    assert invoice["id"] == confirmed["invoice_id"]
    assert [(line["code"], line["quantity"], line["unit_price"], line["amount"]) for line in invoice["lines"]] == [
        (amoxicillin["code"], 4, "12.50", "50.00"),
        (paracetamol["code"], 5, "3.20", "16.00"),
    ]
    # 66.00, no loyalty discount on orders, GST 12 % = 7.92, total 73.92; insured: 90 % is 66.53.
    assert (invoice["subtotal"], invoice["discount_amount"], invoice["tax_amount"], invoice["total"]) == (
        "66.00",
        "0.00",
        "7.92",
        "73.92",
    )
    assert (invoice["insurance_amount"], invoice["patient_amount"], invoice["status"]) == ("66.53", "7.39", "issued")
    assert await steps(env, placed["id"]) == ["placed", "stock_reserved", "invoiced", "confirmed"]
    [event] = await outbox_payloads(env, "order.confirmed")
    assert (event["order_id"], event["invoice_id"]) == (placed["id"], invoice["id"])


async def test_more_than_in_stock_fails_and_releases_the_earlier_items(env):
    plenty = await stock_medication(env, stock=10)
    scarce = await stock_medication(env, stock=2)
    patient, practitioner = await parties(env)

    placed = await place_order(env, prescription(patient, practitioner, (plenty, 3), (scarce, 3)))
    await env.drain()

    failed = await order(env, placed["id"])
    assert (failed["status"], failed["failure_reason"], failed["invoice_id"]) == ("failed", "INSUFFICIENT_STOCK", None)
    assert (await medication(env, plenty["id"]))["available_quantity"] == 10
    assert (await medication(env, scarce["id"]))["available_quantity"] == 2
    statuses = {r["medication_id"]: r["status"] for r in await reservations(env, placed["id"])}
    assert statuses == {plenty["id"]: "released", scarce["id"]: "failed"}
    assert await invoices_of(env, placed["id"]) == []
    assert await steps(env, placed["id"]) == ["placed", "stock_reservation_failed", "reservations_released", "failed"]
    [event] = await outbox_payloads(env, "order.failed")
    assert (event["failure_reason"], event["patient_id"]) == ("INSUFFICIENT_STOCK", patient["id"])


async def test_cancelling_a_confirmed_order_restores_stock_and_voids_the_invoice(env):
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 4)))
    await env.drain()

    response = await cancel(env, placed["id"], reason="changed the prescription")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["cancel_reason"]) == ("cancelled", "changed the prescription")
    await env.drain()

    assert (await medication(env, amoxicillin["id"]))["available_quantity"] == 10
    assert [r["status"] for r in await reservations(env, placed["id"])] == ["released"]
    [invoice] = await invoices_of(env, placed["id"])
    assert invoice["status"] == "void"
    assert await steps(env, placed["id"]) == [
        "placed",
        "stock_reserved",
        "invoiced",
        "confirmed",
        "invoice_voided",
        "cancelled",
        "reservations_released",
    ]


async def test_cancelling_a_pending_order_reserves_nothing(env):
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 4)))

    response = await cancel(env, placed["id"])
    assert response.status_code == 200, response.text
    await env.drain()

    assert (await order(env, placed["id"]))["status"] == "cancelled"
    assert (await medication(env, amoxicillin["id"]))["available_quantity"] == 10
    assert all(r["status"] != "reserved" for r in await reservations(env, placed["id"]))
    assert await invoices_of(env, placed["id"]) == []


async def test_an_order_whose_invoice_was_paid_is_not_cancelled(env):
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 2)))
    await env.drain()
    invoice_id = (await order(env, placed["id"]))["invoice_id"]
    await make_payment(env, invoice_id, "10.00")

    assert_problem(await cancel(env, placed["id"]), 409, "INVOICE_HAS_PAYMENTS")

    after = await order(env, placed["id"])
    assert (after["status"], after["version"]) == ("confirmed", 2)
    assert (await medication(env, amoxicillin["id"]))["available_quantity"] == 8


async def test_dispensing_every_item_completes_the_order_and_ends_cancellation(env):
    amoxicillin = await stock_medication(env, stock=10)
    paracetamol = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 2), (paracetamol, 1)))
    await env.drain()
    first, second = await reservations(env, placed["id"])

    response = await env.client.post(f"{RESERVATIONS}/{first['id']}/dispense", headers=env.admin)
    assert response.status_code == 200, response.text
    await env.drain()
    assert (await order(env, placed["id"]))["status"] == "confirmed"
    assert_problem(await cancel(env, placed["id"]), 409, "ORDER_NOT_CANCELLABLE")

    response = await env.client.post(f"{RESERVATIONS}/{second['id']}/dispense", headers=env.admin)
    assert response.status_code == 200, response.text
    await env.drain()

    completed = await order(env, placed["id"])
    assert (completed["status"], completed["closed_at"] is not None) == ("completed", True)
    assert (await steps(env, placed["id"]))[-3:] == ["dispensed", "dispensed", "completed"]
    assert len(await outbox_payloads(env, "order.completed")) == 1
    assert_problem(await cancel(env, placed["id"]), 409, "ORDER_NOT_CANCELLABLE")


async def test_a_stale_version_does_not_cancel(env):
    amoxicillin = await stock_medication(env)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 1)))
    await env.drain()  # confirming bumps the version

    response = await env.client.post(
        f"/api/v1/orders/{placed['id']}/cancel", headers={**env.admin, "If-Match": f'"{placed["version"]}"'}
    )
    assert_problem(response, 412, "VERSION_CONFLICT")
    assert (await order(env, placed["id"]))["status"] == "confirmed"


async def test_a_failed_or_cancelled_order_cannot_be_cancelled(env):
    scarce = await stock_medication(env, stock=1)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (scarce, 2)))
    await env.drain()

    assert_problem(await cancel(env, placed["id"]), 409, "ORDER_NOT_CANCELLABLE")

    other = await place_order(env, prescription(patient, practitioner, (scarce, 1)))
    assert (await cancel(env, other["id"])).status_code == 200
    assert_problem(await cancel(env, other["id"]), 409, "ORDER_NOT_CANCELLABLE")


async def test_an_order_billing_cannot_invoice_fails_and_gives_the_stock_back(env):
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 4)))
    # The patient's record is removed while the order waits for the pharmacy: billing has nobody to invoice.
    response = await env.client.delete(f"/api/v1/patients/{patient['id']}", headers=env.admin)
    assert response.status_code == 204, response.text

    await env.drain()

    failed = await order(env, placed["id"])
    assert (failed["status"], failed["failure_reason"], failed["invoice_id"]) == ("failed", "BILLING_FAILED", None)
    assert await steps(env, placed["id"]) == [
        "placed",
        "stock_reserved",
        "invoicing_failed",
        "failed",
        "reservations_released",
    ]
    assert (await medication(env, amoxicillin["id"]))["available_quantity"] == 10
    assert await invoices_of(env, placed["id"]) == []


async def test_saga_outcomes_are_counted_once_they_commit(env):
    plenty = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env)

    def count(outcome: str, reason: str = "") -> float:
        return metric("orders_total", type="prescription", outcome=outcome, reason=reason)

    before = {name: count(*name) for name in (("placed",), ("confirmed",), ("failed", "INSUFFICIENT_STOCK"))}
    await place_order(env, prescription(patient, practitioner, (plenty, 4)))
    await place_order(env, prescription(patient, practitioner, (plenty, 40)))
    await env.drain()

    after = {name: count(*name) for name in before}
    assert {name: after[name] - before[name] for name in before} == {
        ("placed",): 2,
        ("confirmed",): 1,
        ("failed", "INSUFFICIENT_STOCK"): 1,
    }
    exposed = (await env.client.get("/metrics")).text
    assert 'orders_total{outcome="confirmed",reason="",type="prescription"}' in exposed


async def test_the_saga_steps_are_a_paged_list(env):
    amoxicillin = await stock_medication(env, stock=10)
    patient, practitioner = await parties(env, **INSURED)
    placed = await place_order(env, prescription(patient, practitioner, (amoxicillin, 2)))
    await env.drain()
    path = f"{ORDERS}/{placed['id']}/events"

    first = (await env.client.get(path, params={"limit": 3}, headers=env.admin)).json()
    assert [e["step"] for e in first["items"]] == ["placed", "stock_reserved", "invoiced"]
    assert first["next_cursor"]
    paged = await every_page(env, path, limit=1)
    assert [e["step"] for e in paged] == ["placed", "stock_reserved", "invoiced", "confirmed"]
    assert_problem(await env.client.get(path, params={"limit": 201}, headers=env.admin), 422, "VALIDATION_ERROR")
    assert_problem(await env.client.get(path, params={"cursor": "forged"}, headers=env.admin), 422, "INVALID_CURSOR")
