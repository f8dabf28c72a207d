"""POST /payments: what a payment records, what it does to the invoice, and the requests it refuses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.builders.billing import INVOICES
from tests.builders.payments import (
    FULL_PRICE,
    PAYMENTS,
    assert_problem,
    invoice,
    make_payment,
    metric,
    new_key,
    outbox_payloads,
    pay,
    payment_body,
    simulated_gateway,
    snapshot,
    unpaid_invoice,
)

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def bill(env):
    return await unpaid_invoice(env)


async def test_a_cash_payment_is_recorded_against_the_invoice(env, bill):
    before = metric("payments_success_total", method="cash")

    response = await pay(env, bill["id"], "100.00", "cash")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "id": body["id"],
        "reference": "PAY-2030-000001",
        "invoice_id": bill["id"],
        "patient_id": bill["patient_id"],
        "amount": "100.00",
        "currency": "INR",
        "method": "cash",
        "status": "completed",
        "failure_reason": None,
        "refunded_amount": "0.00",
        "payment_method_id": None,
        "settlement_date": body["created_at"][:10],  # the clinic day (UTC here) it was received
        "created_at": body["created_at"],
    }
    assert body["created_at"].endswith("Z")
    assert response.headers["Location"] == f"{PAYMENTS}/{body['id']}"
    assert "Idempotent-Replayed" not in response.headers
    assert metric("payments_success_total", method="cash") == before + 1
    assert await env.count("audit_events", "action = 'payment.create' AND entity_id = :id", id=body["id"]) == 1
    assert (await env.client.get(f"{PAYMENTS}/{body['id']}", headers=env.admin)).json() == body


async def test_payment_completed_carries_what_notifications_need(env, bill):
    body = await make_payment(env, bill["id"], "100.00", "upi")
    assert await outbox_payloads(env, "payment.completed") == [
        {
            "payment_id": body["id"],
            "reference": body["reference"],
            "invoice_id": bill["id"],
            "invoice_number": bill["number"],
            "patient_id": bill["patient_id"],
            "amount": "100.00",
            "method": "upi",
            "currency": "INR",
            "balance_due": "1580.00",
            "created_at": body["created_at"],
        }
    ]


async def test_a_card_payment_is_charged_at_the_gateway(env, bill):
    gateway = simulated_gateway(env)
    body = await make_payment(env, bill["id"], "250.50", "card", card_token="tok_mastercard")
    assert (body["status"], body["method"], body["amount"]) == ("completed", "card", "250.50")
    assert gateway.captured() == Decimal("250.50")
    assert len(gateway.charges) == 1


async def test_partial_payments_take_the_invoice_to_partially_paid_then_paid(env, bill):
    await make_payment(env, bill["id"], "1000.00", "cash")
    figures = await invoice(env, bill["id"])
    assert (figures["status"], figures["amount_paid"], figures["balance_due"]) == (
        "partially_paid",
        "1000.00",
        "680.00",
    )

    await make_payment(env, bill["id"], "680.00", "card")
    figures = await invoice(env, bill["id"])
    assert (figures["status"], figures["amount_paid"], figures["balance_due"]) == ("paid", FULL_PRICE, "0.00")
    assert [p["balance_due"] for p in await outbox_payloads(env, "payment.completed")] == ["680.00", "0.00"]
    assert (await env.outbox_types()).count("invoice.paid") == 1


async def test_a_paid_invoice_takes_no_more_payments(env, bill):
    await make_payment(env, bill["id"], FULL_PRICE)
    before = await snapshot(env, bill["id"])
    assert_problem(await pay(env, bill["id"], "1.00"), 409, "INVOICE_NOT_PAYABLE")
    assert await snapshot(env, bill["id"]) == before


async def test_a_void_invoice_takes_no_payments(env, bill):
    voided = await env.client.post(
        f"{INVOICES}/{bill['id']}/void", json={"reason": "Billed in error"}, headers=env.admin
    )
    assert voided.status_code == 200, voided.text
    before = await snapshot(env, bill["id"])
    assert_problem(await pay(env, bill["id"], "1.00"), 409, "INVOICE_NOT_PAYABLE")
    assert await snapshot(env, bill["id"]) == before


async def test_more_than_the_balance_is_refused(env, bill):
    await make_payment(env, bill["id"], "1000.00")
    before = await snapshot(env, bill["id"])
    counted = [metric("payments_success_total", method="card"), metric("payments_failure_total", method="card")]

    assert_problem(await pay(env, bill["id"], "680.01", "card"), 409, "AMOUNT_EXCEEDS_BALANCE")

    assert await snapshot(env, bill["id"]) == before
    assert simulated_gateway(env).charge_calls == 0
    assert [metric("payments_success_total", method="card"), metric("payments_failure_total", method="card")] == counted


async def test_the_payment_counters_are_exposed_for_prometheus(env, bill):
    await make_payment(env, bill["id"], "10.00", "bank_transfer")
    await pay(env, bill["id"], "10.00", "card", card_token="tok_declined")
    metrics = (await env.client.get("/metrics")).text
    assert 'payments_success_total{method="bank_transfer"}' in metrics
    assert 'payments_failure_total{method="card",reason="declined"}' in metrics


async def test_an_unknown_invoice_is_404(env):
    before = await snapshot(env)
    assert_problem(await pay(env, MISSING), 404, "INVOICE_NOT_FOUND")
    assert await snapshot(env) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "0.00"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": "10.001"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "1000000000000.00"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"method": "cheque"}, "method"),
        ({"method": "card", "card_token": None}, "card_token"),
        ({"method": "cash", "card_token": "tok_visa"}, "card_token"),
        ({"invoice_id": "not-a-uuid"}, "invoice_id"),
        ({"tip": "5.00"}, "tip"),
    ],
)
async def test_malformed_payments_are_422_and_change_nothing(env, bill, overrides, field):
    body = payment_body(bill["id"], "10.00", "cash")
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not None}
    before = await snapshot(env, bill["id"])

    response = await env.client.post(PAYMENTS, json=body, headers={**env.admin, "Idempotency-Key": new_key()})

    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert [field] in [e["loc"] for e in problem["errors"]], problem
    assert await snapshot(env, bill["id"]) == before


async def test_amounts_may_be_json_numbers_and_are_answered_with_two_decimals(env, bill):
    response = await env.client.post(
        PAYMENTS,
        json={"invoice_id": bill["id"], "amount": 12.5, "method": "bank_transfer"},
        headers={**env.admin, "Idempotency-Key": new_key()},
    )
    assert response.status_code == 201, response.text
    assert response.json()["amount"] == "12.50"


async def test_an_unknown_card_token_is_declined(env, bill):
    response = await pay(env, bill["id"], "10.00", "card", card_token="tok_amex_made_up")
    problem = assert_problem(response, 402, "PAYMENT_DECLINED")
    assert problem["failure_reason"] == "unknown card token"
