"""Many payment requests at once against one invariant: one payment per key, no balance below zero,
no refunds beyond the payment."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import pytest

from tests.builders.payments import (
    PAYMENTS,
    invoice,
    make_payment,
    new_key,
    outbox_payloads,
    pay,
    refund,
    simulated_gateway,
    unpaid_invoice,
)

CONTENDERS = 10


@pytest.fixture
async def bill(env):
    invoice = await unpaid_invoice(env)
    await env.warm_pool(CONTENDERS + 2)
    return invoice


@pytest.mark.parametrize("method", ["card", "cash"])
async def test_concurrent_requests_with_one_key_make_exactly_one_payment(env, bill, method):
    key = new_key()

    responses = await asyncio.gather(*(pay(env, bill["id"], "100.00", method, key=key) for _ in range(CONTENDERS)))

    assert [r.status_code for r in responses] == [201] * CONTENDERS, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert Counter(r.headers.get("Idempotent-Replayed") for r in responses) == {None: 1, "true": CONTENDERS - 1}
    assert await env.count("payments") == 1
    assert await env.count("idempotency_keys") == 1
    assert len(await outbox_payloads(env, "payment.completed")) == 1
    assert (await invoice(env, bill["id"]))["amount_paid"] == "100.00"
    if method == "card":
        gateway = simulated_gateway(env)
        assert (gateway.charge_calls, gateway.captured()) == (1, Decimal("100.00"))


@pytest.mark.parametrize("method", ["card", "cash"])
async def test_concurrent_payments_never_take_the_balance_below_zero(env, bill, method):
    # 1680.00 due; ten payments of 300.00: exactly five fit.
    responses = await asyncio.gather(*(pay(env, bill["id"], "300.00", method) for _ in range(CONTENDERS)))

    assert Counter(r.status_code for r in responses) == {201: 5, 409: 5}, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"AMOUNT_EXCEEDS_BALANCE"}
    figures = await invoice(env, bill["id"])
    assert (figures["status"], figures["amount_paid"], figures["balance_due"]) == (
        "partially_paid",
        "1500.00",
        "180.00",
    )
    assert await env.count("payments", "status = 'completed'") == 5
    references = sorted(r.json()["reference"] for r in responses if r.status_code == 201)
    assert references == [f"PAY-2030-{n:06d}" for n in range(1, 6)]
    if method == "card":
        assert simulated_gateway(env).captured() == Decimal("1500.00")


@pytest.mark.parametrize("method", ["card", "cash"])
async def test_concurrent_refunds_never_exceed_the_payment(env, bill, method):
    payment = await make_payment(env, bill["id"], "100.00", method)

    responses = await asyncio.gather(*(refund(env, payment["id"], "30.00") for _ in range(CONTENDERS)))

    assert Counter(r.status_code for r in responses) == {201: 3, 409: 7}, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"REFUND_EXCEEDS_PAYMENT"}
    assert await env.count("refunds") == 3
    stored = (await env.client.get(f"{PAYMENTS}/{payment['id']}", headers=env.admin)).json()
    assert stored["refunded_amount"] == "90.00"
    assert (await invoice(env, bill["id"]))["amount_paid"] == "10.00"
