"""What the card gateway's answers do: declined, unavailable, too slow, and a server that dies mid-payment."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.builders.payments import (
    PAYMENTS,
    assert_problem,
    invoice,
    make_payment,
    metric,
    new_key,
    outbox_payloads,
    pay,
    simulated_gateway,
    snapshot,
    unpaid_invoice,
)
from tests.payments.gateways import CrashAfterChargeGateway, FlakyGateway, SlowGateway, use_gateway


@pytest.fixture
async def bill(env):
    return await unpaid_invoice(env)


async def test_a_declined_card_is_stored_as_a_failed_payment_and_answered_402(env, bill):
    before = metric("payments_failure_total", method="card", reason="declined")
    successes = metric("payments_success_total", method="card")

    response = await pay(env, bill["id"], "100.00", "card", card_token="tok_declined")

    problem = assert_problem(response, 402, "PAYMENT_DECLINED")
    assert (problem["failure_reason"], problem["reference"]) == ("card declined", "PAY-2030-000001")
    stored = (await env.client.get(f"{PAYMENTS}/{problem['payment_id']}", headers=env.admin)).json()
    assert (stored["status"], stored["failure_reason"], stored["amount"]) == ("failed", "card declined", "100.00")
    assert metric("payments_failure_total", method="card", reason="declined") == before + 1
    assert metric("payments_success_total", method="card") == successes
    assert await outbox_payloads(env, "payment.failed") == [
        {
            "payment_id": stored["id"],
            "reference": "PAY-2030-000001",
            "invoice_id": bill["id"],
            "invoice_number": bill["number"],
            "patient_id": bill["patient_id"],
            "amount": "100.00",
            "method": "card",
            "currency": "INR",
            "failure_reason": "card declined",
            "created_at": stored["created_at"],
        }
    ]
    figures = await invoice(env, bill["id"])
    assert (figures["status"], figures["amount_paid"], figures["balance_due"]) == ("issued", "0.00", "1680.00")
    # The whole balance is payable again: nothing stayed reserved.
    assert (await pay(env, bill["id"], "1680.00", "card")).status_code == 201


async def test_a_gateway_timeout_is_502_charges_nothing_and_leaves_nothing(env, bill):
    gateway = simulated_gateway(env)
    before = await snapshot(env, bill["id"])
    failures = metric("payments_failure_total", method="card", reason="gateway_unavailable")
    key = new_key()

    response = await pay(env, bill["id"], "100.00", "card", card_token="tok_timeout", key=key)

    assert_problem(response, 502, "GATEWAY_UNAVAILABLE")
    assert response.headers["Retry-After"]
    after = await snapshot(env, bill["id"])
    assert {**after, "keys": 0, "audit": 0} == {**before, "keys": 0, "audit": 0}  # no payment, no event
    assert await env.count("idempotency_keys", "state = 'released'") == 1
    assert await env.count("audit_events", "action = 'payment.abandon'") == 1
    assert gateway.captured() == 0
    assert metric("payments_failure_total", method="card", reason="gateway_unavailable") == failures + 1

    retry = await pay(env, bill["id"], "100.00", "card", card_token="tok_timeout", key=key)
    assert_problem(retry, 502, "GATEWAY_UNAVAILABLE")
    assert "Idempotent-Replayed" not in retry.headers  # retried, not replayed
    assert (gateway.charge_calls, gateway.captured()) == (2, 0)
    assert (await invoice(env, bill["id"]))["balance_due"] == "1680.00"


async def test_a_retry_with_the_same_key_after_an_outage_pays_once(env, bill):
    gateway = use_gateway(env, FlakyGateway(outages=1))
    key = new_key()

    assert_problem(await pay(env, bill["id"], "100.00", "card", key=key), 502, "GATEWAY_UNAVAILABLE")
    retry = await pay(env, bill["id"], "100.00", "card", key=key)
    replay = await pay(env, bill["id"], "100.00", "card", key=key)

    assert retry.status_code == 201, retry.text
    assert (replay.status_code, replay.content, replay.headers["Idempotent-Replayed"]) == (201, retry.content, "true")
    assert retry.json()["reference"] == "PAY-2030-000001"  # the failed attempt took no number
    assert gateway.captured() == Decimal("100.00")
    assert await env.count("payments") == 1
    assert (await invoice(env, bill["id"]))["amount_paid"] == "100.00"


async def test_a_gateway_slower_than_the_timeout_counts_as_unavailable(make_env):
    async with make_env(payments={"payment_gateway_timeout_seconds": 0.1}) as env:
        bill = await unpaid_invoice(env)
        use_gateway(env, SlowGateway(delay=5))
        assert_problem(await pay(env, bill["id"], "100.00", "card"), 502, "GATEWAY_UNAVAILABLE")
        assert await env.count("payments") == 0
        assert (await invoice(env, bill["id"]))["balance_due"] == "1680.00"


async def test_a_server_that_dies_after_the_charge_is_recovered_by_a_retry_without_a_second_charge(make_env):
    async with make_env(payments={"idempotency_wait_seconds": 0.2, "payment_gateway_timeout_seconds": 5}) as env:
        bill = await unpaid_invoice(env)
        gateway = use_gateway(env, CrashAfterChargeGateway())
        key = new_key()

        crashed = await pay(env, bill["id"], "100.00", "card", key=key)
        assert_problem(crashed, 502, "GATEWAY_UNAVAILABLE")
        gateway.crashing = False
        # The card was charged; the payment is still pending, hidden, and its amount still reserved.
        assert gateway.captured() == Decimal("100.00")
        assert (await env.client.get(PAYMENTS, headers=env.admin)).json()["items"] == []
        assert_problem(await pay(env, bill["id"], "1680.00"), 409, "AMOUNT_EXCEEDS_BALANCE")

        # Too soon: the first attempt might still be alive.
        assert_problem(await pay(env, bill["id"], "100.00", "card", key=key), 409, "IDEMPOTENCY_REQUEST_IN_PROGRESS")

        env.clock.advance(seconds=6)  # past the gateway timeout: the attempt is abandoned
        recovered = await pay(env, bill["id"], "100.00", "card", key=key)

        assert recovered.status_code == 201, recovered.text
        assert "Idempotent-Replayed" not in recovered.headers
        assert (gateway.charge_calls, len(gateway.charges), gateway.captured()) == (2, 1, Decimal("100.00"))
        assert await env.count("payments") == 1
        assert len(await outbox_payloads(env, "payment.completed")) == 1
        figures = await invoice(env, bill["id"])
        assert (figures["amount_paid"], figures["balance_due"]) == ("100.00", "1580.00")
        assert (await make_payment(env, bill["id"], "1580.00"))["status"] == "completed"
