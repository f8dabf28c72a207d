"""POST /payments/{id}/refunds: money given back, the invoice's balance restored, never more than was paid."""

from __future__ import annotations

from decimal import Decimal

import pytest

from caremesh.payments import service
from tests.builders.payments import (
    PAYMENTS,
    assert_problem,
    invoice,
    make_payment,
    new_key,
    outbox_payloads,
    pay,
    refund,
    simulated_gateway,
    snapshot,
    unpaid_invoice,
)
from tests.payments.gateways import CrashAfterRefundGateway, FlakyGateway, use_gateway

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def bill(env):
    return await unpaid_invoice(env)


@pytest.fixture
async def paid(env, bill):
    """The whole invoice paid in cash."""
    return await make_payment(env, bill["id"], "1680.00", "cash")


async def payment(env, payment_id: str) -> dict:
    response = await env.client.get(f"{PAYMENTS}/{payment_id}", headers=env.admin)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_refund_gives_money_back_and_restores_the_balance(env, bill, paid):
    response = await refund(env, paid["id"], "500.00", "Insurance paid part of it after all")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "id": body["id"],
        "reference": "RFD-2030-000001",
        "payment_id": paid["id"],
        "amount": "500.00",
        "currency": "INR",
        "reason": "Insurance paid part of it after all",
        "settlement_date": body["created_at"][:10],
        "created_at": body["created_at"],
    }
    assert (await payment(env, paid["id"]))["refunded_amount"] == "500.00"
    figures = await invoice(env, bill["id"])
    assert (figures["status"], figures["amount_paid"], figures["balance_due"]) == (
        "partially_paid",
        "1180.00",
        "500.00",
    )
    assert await env.count("audit_events", "action = 'payment.refund' AND entity_id = :id", id=body["id"]) == 1
    assert await outbox_payloads(env, "payment.refunded") == [
        {
            "refund_id": body["id"],
            "reference": "RFD-2030-000001",
            "payment_id": paid["id"],
            "payment_reference": paid["reference"],
            "invoice_id": bill["id"],
            "invoice_number": bill["number"],
            "patient_id": bill["patient_id"],
            "amount": "500.00",
            "currency": "INR",
            "reason": "Insurance paid part of it after all",
            "balance_due": "500.00",
            "created_at": body["created_at"],
        }
    ]


async def test_refunds_add_up_to_the_payment_and_no_further(env, bill, paid):
    assert (await refund(env, paid["id"], "1000.00")).status_code == 201
    before = await snapshot(env, bill["id"])

    problem = assert_problem(await refund(env, paid["id"], "680.01"), 409, "REFUND_EXCEEDS_PAYMENT")

    assert "680.00" in problem["detail"]
    assert await snapshot(env, bill["id"]) == before
    assert (await refund(env, paid["id"], "680.00")).status_code == 201
    figures = await invoice(env, bill["id"])
    assert (figures["status"], figures["amount_paid"], figures["balance_due"]) == ("issued", "0.00", "1680.00")
    assert (await payment(env, paid["id"]))["refunded_amount"] == "1680.00"
    assert_problem(await refund(env, paid["id"], "0.01"), 409, "REFUND_EXCEEDS_PAYMENT")


async def test_a_refunded_invoice_can_be_paid_again(env, bill, paid):
    await refund(env, paid["id"], "100.00")
    assert (await make_payment(env, bill["id"], "100.00", "upi"))["status"] == "completed"
    assert (await invoice(env, bill["id"]))["status"] == "paid"


async def test_a_card_refund_goes_back_through_the_gateway(env, bill):
    gateway = simulated_gateway(env)
    card = await make_payment(env, bill["id"], "300.00", "card")

    assert (await refund(env, card["id"], "120.00")).status_code == 201

    assert [r.approved for r in gateway.refunds.values()] == [True]
    assert next(iter(gateway.charges.values())).refunded == Decimal("120.00")


async def test_a_refund_replays_under_its_key(env, bill, paid):
    key = new_key()
    first = await refund(env, paid["id"], "10.00", key=key)
    again = await refund(env, paid["id"], "10.00", key=key)
    assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (201, first.content, "true")
    assert await env.count("refunds") == 1
    assert_problem(await refund(env, paid["id"], "11.00", key=key), 422, "IDEMPOTENCY_KEY_REUSED")


async def test_a_refund_the_gateway_declines_changes_nothing(env, bill):
    card = await make_payment(env, bill["id"], "300.00", "card")
    simulated_gateway(env).charges.clear()  # the gateway no longer knows the charge
    before = await snapshot(env, bill["id"])
    key = new_key()

    problem = assert_problem(await refund(env, card["id"], "100.00", key=key), 402, "REFUND_DECLINED")

    assert "unknown charge" in problem["detail"]
    assert {**await snapshot(env, bill["id"]), "audit": 0, "keys": 0} == {**before, "audit": 0, "keys": 0}
    assert (await payment(env, card["id"]))["refunded_amount"] == "0.00"
    assert await env.count("idempotency_keys", "state = 'released'") == 1


async def test_a_refund_retried_after_a_gateway_outage_refunds_once(env, bill):
    gateway = use_gateway(env, FlakyGateway(outages=0))
    card = await make_payment(env, bill["id"], "300.00", "card")
    gateway.outages = 1
    key = new_key()

    assert_problem(await refund(env, card["id"], "100.00", key=key), 502, "GATEWAY_UNAVAILABLE")
    assert (await payment(env, card["id"]))["refunded_amount"] == "0.00"
    assert await env.count("refunds") == 0

    retry = await refund(env, card["id"], "100.00", key=key)
    assert retry.status_code == 201, retry.text
    assert retry.json()["reference"] == "RFD-2030-000001"
    assert (await payment(env, card["id"]))["refunded_amount"] == "100.00"
    assert (await invoice(env, bill["id"]))["amount_paid"] == "200.00"


async def test_only_completed_payments_are_refunded(env, bill):
    declined = await pay(env, bill["id"], "100.00", "card", card_token="tok_declined")
    before = await snapshot(env, bill["id"])
    response = await refund(env, declined.json()["payment_id"], "1.00")
    assert_problem(response, 409, "PAYMENT_NOT_REFUNDABLE")
    assert await snapshot(env, bill["id"]) == before


async def test_refunding_an_unknown_payment_is_404(env):
    assert_problem(await refund(env, MISSING, "1.00"), 404, "PAYMENT_NOT_FOUND")
    assert await env.count("idempotency_keys") == 0


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "0.00", "reason": "x"},
        {"amount": "-1.00", "reason": "x"},
        {"amount": "1.005", "reason": "x"},
        {"amount": "1.00"},
        {"amount": "1.00", "reason": "   "},
        {"amount": "1.00", "reason": "x" * 501},
        {"amount": "1.00", "reason": "x", "method": "cash"},
    ],
)
async def test_malformed_refunds_are_422_and_change_nothing(env, bill, paid, body):
    before = await snapshot(env, bill["id"])
    response = await env.client.post(
        f"{PAYMENTS}/{paid['id']}/refunds", json=body, headers={**env.admin, "Idempotency-Key": new_key()}
    )
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert await snapshot(env, bill["id"]) == before


@pytest.mark.parametrize("role", ["receptionist", "claims_officer", "doctor"])
async def test_only_billing_clerks_and_admins_refund(env, paid, role):
    headers = await env.user([role])
    assert_problem(await refund(env, paid["id"], "1.00", headers=headers), 403, "FORBIDDEN")
    clerk = await env.user(["billing_clerk"])
    assert (await refund(env, paid["id"], "1.00", headers=clerk)).status_code == 201


async def test_a_refund_race_the_check_cannot_see_is_refused_by_the_database(env, bill, paid, monkeypatch):
    # On SQLite transactions are serial, so the lost race is simulated: the check sees room for anything.
    monkeypatch.setattr(service.domain, "refund_refusal", lambda *_args: None)
    before = await snapshot(env, bill["id"])

    assert_problem(await refund(env, paid["id"], "1680.01"), 409, "REFUND_EXCEEDS_PAYMENT")

    assert await snapshot(env, bill["id"]) == before


async def test_a_server_that_dies_after_the_gateway_refunded_is_recovered_by_a_retry(env, bill):
    gateway = use_gateway(env, CrashAfterRefundGateway(crashing=False))
    card = await make_payment(env, bill["id"], "300.00", "card")
    gateway.crashing = True
    key = new_key()

    assert_problem(await refund(env, card["id"], "100.00", key=key), 502, "GATEWAY_UNAVAILABLE")
    gateway.crashing = False
    assert await env.count("refunds", "status = 'pending'") == 1
    # The refund in flight holds its amount: nothing more than the rest can be refunded meanwhile.
    assert_problem(await refund(env, card["id"], "200.01"), 409, "REFUND_EXCEEDS_PAYMENT")

    env.clock.advance(seconds=16)  # past the wait and the gateway timeout: the attempt is abandoned
    recovered = await refund(env, card["id"], "100.00", key=key)

    assert recovered.status_code == 201, recovered.text
    assert len(gateway.refunds) == 1
    assert next(iter(gateway.charges.values())).refunded == Decimal("100.00")
    assert (await payment(env, card["id"]))["refunded_amount"] == "100.00"
    assert (await invoice(env, bill["id"]))["amount_paid"] == "200.00"
    assert len(await outbox_payloads(env, "payment.refunded")) == 1
