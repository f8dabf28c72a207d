"""Issue 4's "done means", as a new user would try it through the API only: stock a medication, order it for a
patient and see the order confirmed, the stock reserved and an invoice; order more than is in stock and see the
order fail with INSUFFICIENT_STOCK and every earlier reservation released; cancel a confirmed order and see
stock and invoice restored."""

from __future__ import annotations

from typing import Any

from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner

API = "/api/v1"


async def test_stock_order_fail_and_cancel_a_prescription(env):
    pharmacist = await env.user(["pharmacist"])
    doctor = await env.user(["doctor"])
    patient = await make_patient(env)
    practitioner = await make_practitioner(env)

    async def call(method: str, path: str, headers: dict[str, str], expected: int, **body: Any) -> Any:
        response = await env.client.request(method, f"{API}{path}", headers=headers, json=body or None)
        assert response.status_code == expected, response.text
        return response.json()

    async def stock(medication: dict[str, Any]) -> tuple[int, int, int]:
        read = await call("GET", f"/medications/{medication['id']}", pharmacist, 200)
        return read["stock_quantity"], read["reserved_quantity"], read["available_quantity"]

    amoxicillin = await call(
        "POST", "/medications", pharmacist, 201, code="AMOX-500", name="Amoxicillin 500 mg", unit="capsule",
        unit_price="6.40", stock_quantity=30,
    )  # fmt: skip
    paracetamol = await call(
        "POST", "/medications", pharmacist, 201, code="PARA-650", name="Paracetamol 650 mg", unit="tablet",
        unit_price="1.80", stock_quantity=5,
    )  # fmt: skip

    def prescription(*items: tuple[dict[str, Any], int]) -> dict[str, Any]:
        return {
            "patient_id": patient["id"],
            "practitioner_id": practitioner["id"],
            "type": "prescription",
            "items": [{"medication_id": m["id"], "quantity": q} for m, q in items],
        }

    # Order it: confirmed, stock reserved, an invoice.
    placed = await call("POST", "/orders", doctor, 202, **prescription((amoxicillin, 10)))
    assert placed["status"] == "pending"
    await env.drain()  # the server's workers do this within milliseconds
    confirmed = await call("GET", f"/orders/{placed['id']}", doctor, 200)
    assert confirmed["status"] == "confirmed"
    assert await stock(amoxicillin) == (30, 10, 20)
    invoice = await call("GET", f"/invoices/{confirmed['invoice_id']}", env.admin, 200)
    assert (invoice["order_id"], invoice["subtotal"], invoice["tax_amount"], invoice["total"]) == (
        placed["id"],
        "64.00",
        "7.68",
        "71.68",
    )

    # More than is in stock: failed, and the earlier item's reservation released.
    greedy = await call("POST", "/orders", doctor, 202, **prescription((amoxicillin, 5), (paracetamol, 6)))
    await env.drain()
    failed = await call("GET", f"/orders/{greedy['id']}", doctor, 200)
    assert (failed["status"], failed["failure_reason"]) == ("failed", "INSUFFICIENT_STOCK")
    held = await call("GET", f"/pharmacy/reservations?order_id={greedy['id']}", pharmacist, 200)
    assert sorted(r["status"] for r in held["items"]) == ["failed", "released"]
    assert await stock(amoxicillin) == (30, 10, 20)
    assert await stock(paracetamol) == (5, 0, 5)

    # Cancel the confirmed order: stock and invoice restored.
    cancelled = await call("POST", f"/orders/{placed['id']}/cancel", doctor, 200, reason="switched antibiotic")
    assert cancelled["status"] == "cancelled"
    await env.drain()
    assert await stock(amoxicillin) == (30, 0, 30)
    assert (await call("GET", f"/invoices/{confirmed['invoice_id']}", env.admin, 200))["status"] == "void"
    steps = [e["step"] for e in (await call("GET", f"/orders/{placed['id']}/events", doctor, 200))["items"]]
    assert steps == [
        "placed",
        "stock_reserved",
        "invoiced",
        "confirmed",
        "invoice_voided",
        "cancelled",
        "reservations_released",
    ]
