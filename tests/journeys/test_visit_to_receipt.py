"""Issue 3's "done means", as a new user would try it through the API only: book, complete, the
invoice appears with API.md's figures, pay it in two parts while retrying each request with its key,
the invoice reads paid, and one receipt per payment and channel exists."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta

from tests.builders.billing import INSURANCE, complete, invoice_of, next_working_day, practice_start, rfc3339
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import make_appointment
from tests.harness import T0

PAYMENTS = "/api/v1/payments"


async def test_from_a_completed_visit_to_a_paid_invoice_and_one_receipt(env):
    patient = await make_patient(env, insurance=INSURANCE, email="asha@example.org", phone="+919812345678")
    cardiologist = await make_practitioner(env, specialty="cardiology", practice_start_date=practice_start(26))

    async def visit() -> dict:
        start = datetime.combine(next_working_day(env), time(10), tzinfo=T0.tzinfo)
        booked = await make_appointment(
            env, patient_id=patient["id"], practitioner_id=cardiologist["id"], start=rfc3339(start)
        )
        return await complete(env, booked["id"], start, start + timedelta(minutes=30))

    await visit()  # the prior visit: 1 % loyalty discount on the next one
    await env.drain()
    second = await visit()
    await env.drain()  # the relay and the billing consumer, as the server's workers do within milliseconds
    receptionist = await env.user(["receptionist"])  # after the clock moved: access tokens live 15 minutes

    invoice = await invoice_of(env, second["id"], headers=receptionist)
    assert {k: invoice[k] for k in ("subtotal", "discount_percent", "discount_amount", "tax_amount", "total")} == {
        "subtotal": "1500.00",
        "discount_percent": 1,
        "discount_amount": "15.00",
        "tax_amount": "178.20",
        "total": "1663.20",
    }
    assert (invoice["insurance_amount"], invoice["patient_amount"], invoice["balance_due"]) == (
        "1496.88",
        "166.32",
        "166.32",
    )
    assert invoice["status"] == "issued"

    async def pay_twice(key: str, body: dict) -> dict:
        """Send the payment, then retry it as a client whose first response was lost would."""
        headers = {**receptionist, "Idempotency-Key": key}
        first, retried = await asyncio.gather(
            env.client.post(PAYMENTS, json=body, headers=headers),
            env.client.post(PAYMENTS, json=body, headers=headers),
        )
        again = await env.client.post(PAYMENTS, json=body, headers=headers)
        assert first.status_code == retried.status_code == again.status_code == 201, (first.text, retried.text)
        assert first.json() == retried.json() == again.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        return first.json()

    cash = await pay_twice("visit-2-part-1", {"invoice_id": invoice["id"], "amount": "100.00", "method": "cash"})
    partly = await env.client.get(f"/api/v1/invoices/{invoice['id']}", headers=receptionist)
    assert (partly.json()["status"], partly.json()["balance_due"]) == ("partially_paid", "66.32")
    card = await pay_twice(
        "visit-2-part-2",
        {"invoice_id": invoice["id"], "amount": "66.32", "method": "card", "card_token": "tok_visa"},
    )
    assert cash["status"] == card["status"] == "completed"

    paid = (await env.client.get(f"/api/v1/invoices/{invoice['id']}", headers=receptionist)).json()
    assert (paid["status"], paid["amount_paid"], paid["balance_due"]) == ("paid", "166.32", "0.00")
    listed = await env.client.get(PAYMENTS, params={"invoice_id": invoice["id"]}, headers=receptionist)
    assert sorted(p["amount"] for p in listed.json()["items"]) == ["100.00", "66.32"]

    await env.drain()  # notifications: the consumer queues, the dispatcher sends
    await env.drain()  # a second pass finds nothing new: delivered events are not handled twice
    messages = await env.client.get("/api/v1/notifications", params={"recipient_id": patient["id"]}, headers=env.admin)
    receipts = [m for m in messages.json()["items"] if m["template"].startswith("payment_completed.")]
    assert sorted((m["channel"], m["status"]) for m in receipts) == [
        ("email", "sent"),
        ("email", "sent"),
        ("sms", "sent"),
        ("sms", "sent"),
    ]
    assert len({(m["source_event_id"], m["channel"]) for m in receipts}) == 4
    assert any("66.32" in m["body"] for m in receipts if m["channel"] == "email")
