"""The journeys that matter most, through nginx in front of four `caremesh serve --contexts` processes (billing in
two replicas) on PostgreSQL and NATS JetStream, over real HTTP: booking → completion → invoice → payment; an
order saga with a failure and its compensation; a claim from an invoice to a remittance. The server's clock is
the real one, so visits are booked on the next working day and outcomes are polled for, never slept on."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx

from tests.builders.billing import INSURANCE, practice_start
from tests.builders.patients import patient_body
from tests.builders.pharmacy import medication_body
from tests.builders.practitioners import practitioner_body
from tests.distributed.cluster import Cluster, Gateway, eventually


def next_working_day(after: int = 1) -> date:
    day = datetime.now(UTC).date() + timedelta(days=after)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


async def visit(gateway: Gateway, patient: dict, practitioner: dict, hour: int = 10) -> dict[str, Any]:
    """Book a visit on the next working day and complete it now; returns the completed appointment."""
    start = datetime.combine(next_working_day(), time(hour), tzinfo=UTC)
    booked = await gateway.call(
        "POST", "/appointments", 201, patient_id=patient["id"], practitioner_id=practitioner["id"],
        start=start.isoformat(),
    )  # fmt: skip
    return await gateway.call("POST", f"/appointments/{booked['id']}/complete", 200)


async def invoice_of(gateway: Gateway, appointment: dict) -> dict[str, Any]:
    async def one() -> dict[str, Any] | None:
        found = await gateway.invoices_of(appointment["id"])
        assert len(found) <= 1, found
        return found[0] if found else None

    return await eventually("the visit's invoice", one)


def test_openapi_through_the_gateway_documents_every_context(cluster: Cluster):
    from caremesh.app import create_app

    whole = {path for path in create_app().openapi()["paths"] if path.startswith("/api/v1/")}
    documents = [httpx.get(f"{cluster.base}/openapi.json", timeout=10).json() for _ in range(3)]
    assert all({p for p in d["paths"] if p.startswith("/api/v1/")} == whole for d in documents)
    # and any process answers it the same, whichever contexts it serves
    assert httpx.get(f"{cluster.url('billing-1')}/openapi.json", timeout=10).json() == documents[0]


async def test_booking_completion_invoice_payment(cluster: Cluster):
    async with Gateway(cluster.base) as gateway:
        patient = await gateway.call("POST", "/patients", 201, **patient_body(insurance=INSURANCE))
        cardiologist = await gateway.call(
            "POST", "/practitioners", 201, **practitioner_body(practice_start_date=practice_start(26, date.today()))
        )
        completed = await visit(gateway, patient, cardiologist)
        invoice = await invoice_of(gateway, completed)  # written by one of the billing replicas, through NATS
        assert {k: invoice[k] for k in ("subtotal", "tax_amount", "total", "insurance_amount", "balance_due")} == {
            "subtotal": "1500.00",
            "tax_amount": "180.00",
            "total": "1680.00",
            "insurance_amount": "1512.00",
            "balance_due": "168.00",
        }

        async def pay(key: str, body: dict) -> dict:
            """Send, and retry at once as a client whose first answer was lost: one payment."""
            headers = {**gateway.admin, "Idempotency-Key": key}
            first, retried = await asyncio.gather(
                gateway.client.post("/api/v1/payments", json=body, headers=headers),
                gateway.client.post("/api/v1/payments", json=body, headers=headers),
            )
            assert first.status_code == retried.status_code == 201, (first.text, retried.text)
            assert first.json() == retried.json()
            return first.json()

        await pay(uuid.uuid4().hex, {"invoice_id": invoice["id"], "amount": "100.00", "method": "cash"})
        card = {"invoice_id": invoice["id"], "amount": "68.00", "method": "card", "card_token": "tok_visa"}
        await pay(uuid.uuid4().hex, card)
        paid = await gateway.call("GET", f"/invoices/{invoice['id']}")
        assert (paid["status"], paid["amount_paid"], paid["balance_due"]) == ("paid", "168.00", "0.00")

        async def receipts() -> list[dict] | None:
            page = await gateway.call("GET", f"/notifications?recipient_id={patient['id']}")
            sent = [
                m for m in page["items"] if m["template"].startswith("payment_completed.") and m["status"] == "sent"
            ]
            return sent if len(sent) >= 4 else None

        found = await eventually("a receipt per payment and channel", receipts)
        assert sorted(m["channel"] for m in found) == ["email", "email", "sms", "sms"]
    assert await cluster.stream_messages() > 0  # the events went through NATS
    assert await cluster.table_deliveries() == 0  # not through the table


async def test_an_order_saga_fails_and_compensates_then_a_confirmed_order_is_cancelled(cluster: Cluster):
    async with Gateway(cluster.base) as gateway:
        patient = await gateway.call("POST", "/patients", 201, **patient_body())
        practitioner = await gateway.call("POST", "/practitioners", 201, **practitioner_body())
        plenty = await gateway.call("POST", "/medications", 201, **medication_body(stock_quantity=30))
        scarce = await gateway.call("POST", "/medications", 201, **medication_body(stock_quantity=5))

        def prescription(*items: tuple[dict, int]) -> dict:
            return {
                "patient_id": patient["id"],
                "practitioner_id": practitioner["id"],
                "type": "prescription",
                "items": [{"medication_id": m["id"], "quantity": q} for m, q in items],
            }

        async def settled(order_id: str) -> dict:
            async def done() -> dict | None:
                order = await gateway.call("GET", f"/orders/{order_id}")
                return order if order["status"] != "pending" else None

            return await eventually(f"order {order_id} to settle", done)

        async def stock(medication: dict) -> tuple[int, int]:
            read = await gateway.call("GET", f"/medications/{medication['id']}")
            return read["stock_quantity"], read["reserved_quantity"]

        placed = await gateway.call("POST", "/orders", 202, **prescription((plenty, 10)))
        confirmed = await settled(placed["id"])
        assert confirmed["status"] == "confirmed"
        assert await stock(plenty) == (30, 10)

        # more than is in stock: the saga fails and releases the reservation it had made
        greedy = await gateway.call("POST", "/orders", 202, **prescription((plenty, 5), (scarce, 6)))
        failed = await settled(greedy["id"])
        assert (failed["status"], failed["failure_reason"]) == ("failed", "INSUFFICIENT_STOCK")

        async def released() -> list | None:
            held = await gateway.call("GET", f"/pharmacy/reservations?order_id={greedy['id']}")
            statuses = sorted(r["status"] for r in held["items"])
            return statuses if "reserved" not in statuses else None

        assert await eventually("the failed order's reservations released", released) == ["failed", "released"]
        assert await stock(plenty) == (30, 10)
        assert await stock(scarce) == (5, 0)

        # cancel the confirmed one: stock back, invoice void
        await gateway.call("POST", f"/orders/{placed['id']}/cancel", 200, reason="switched antibiotic")

        async def compensated() -> bool:
            invoice = await gateway.call("GET", f"/invoices/{confirmed['invoice_id']}")
            return invoice["status"] == "void" and await stock(plenty) == (30, 0)

        await eventually("the cancelled order's invoice voided and stock released", compensated)


async def test_a_claim_from_an_invoice_to_a_remittance(cluster: Cluster):
    async with Gateway(cluster.base) as gateway:
        code = f"PAYER{uuid.uuid4().hex[:6].upper()}"
        payer = await gateway.call("POST", "/payers", 201, code=code, name="Star Health")
        scheme = await gateway.call("POST", "/schemes", 201, payer_id=payer["id"], code="GOLD", name="Gold Plan")
        await gateway.call(
            "POST", f"/schemes/{scheme['id']}/benefits", 201, category="consultation", coverage_percent="80.00",
            copay_amount="0.00", deductible="0.00", annual_limit="50000.00", requires_preauth=False,
        )  # fmt: skip
        patient = await gateway.call(
            "POST", "/patients", 201, **patient_body(address={"line1": "12 Elm Street", "city": "Springfield",
                                                             "state": "IL", "postal_code": "62701", "country": "US"}),
        )  # fmt: skip
        await gateway.call(
            "POST", "/coverages", 201, patient_id=patient["id"], scheme_id=scheme["id"], member_id="GOLD-000042",
            valid_from=date.today().isoformat(),
        )  # fmt: skip
        cardiologist = await gateway.call(
            "POST", "/practitioners", 201, **practitioner_body(practice_start_date=practice_start(26, date.today()))
        )
        invoice = await invoice_of(gateway, await visit(gateway, patient, cardiologist, hour=11))
        assert (invoice["total"], invoice["insurance_amount"]) == ("1680.00", "1344.00")

        claim = await gateway.call("POST", "/claims", 201, invoice_id=invoice["id"], diagnosis_codes=["I10"])
        assert (await gateway.call("POST", f"/claims/{claim['id']}/submit"))["status"] == "submitted"
        decided = await gateway.call("POST", f"/claims/{claim['id']}/process")
        assert (decided["status"], decided["approved_amount"]) == ("approved", "1344.00")
        remittance = {
            "remittance_id": f"EFT-{uuid.uuid4().hex[:8]}",
            "payer_code": code,
            "items": [{"claim_number": claim["number"], "paid_amount": "1344.00", "adjustment_codes": ["CO-45"]}],
        }
        first = await gateway.client.post("/api/v1/reconciliation/process", json=remittance, headers=gateway.admin)
        again = await gateway.client.post("/api/v1/reconciliation/process", json=remittance, headers=gateway.admin)
        assert (first.status_code, again.status_code) == (201, 200), again.text
        assert first.json()["posted_amount"] == "1344.00"

        assert (await gateway.call("GET", f"/claims/{claim['id']}"))["status"] == "paid"

        async def insurance_paid() -> bool:  # billing learns it from claims' event, through NATS
            return (await gateway.call("GET", f"/invoices/{invoice['id']}"))["insurance_paid"] == "1344.00"

        await eventually("the invoice's insurance share paid", insurance_paid)
