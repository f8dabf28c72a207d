"""Idempotency-Key: required, replayed, bound to one request, per user, and waited for while in progress."""

from __future__ import annotations

import asyncio

import pytest

from tests.builders.payments import (
    PAYMENTS,
    assert_problem,
    invoice,
    new_key,
    pay,
    payment_body,
    simulated_gateway,
    snapshot,
    unpaid_invoice,
)
from tests.payments.gateways import GatedGateway, use_gateway


@pytest.fixture
async def bill(env):
    return await unpaid_invoice(env)


@pytest.mark.parametrize("key", [None, "", "   "])
async def test_a_payment_without_a_key_is_400_before_anything_else(env, bill, key):
    headers = dict(env.admin) if key is None else {**env.admin, "Idempotency-Key": key}
    before = await snapshot(env, bill["id"])

    valid = await env.client.post(PAYMENTS, json=payment_body(bill["id"]), headers=headers)
    malformed = await env.client.post(PAYMENTS, json={"amount": "-1"}, headers=headers)

    assert_problem(valid, 400, "IDEMPOTENCY_KEY_REQUIRED")
    assert_problem(malformed, 400, "IDEMPOTENCY_KEY_REQUIRED")
    assert await snapshot(env, bill["id"]) == before


async def test_a_refund_without_a_key_is_400(env, bill):
    paid = await pay(env, bill["id"])
    response = await env.client.post(
        f"{PAYMENTS}/{paid.json()['id']}/refunds", json={"amount": "1.00", "reason": "x"}, headers=env.admin
    )
    assert_problem(response, 400, "IDEMPOTENCY_KEY_REQUIRED")


@pytest.mark.parametrize("key", ["x" * 256, "naïve-key".encode(), "tab\tkey"])
async def test_a_key_that_is_not_1_to_255_printable_ascii_characters_is_400(env, bill, key):
    before = await snapshot(env, bill["id"])
    assert_problem(await pay(env, bill["id"], key=key), 400, "IDEMPOTENCY_KEY_INVALID")
    assert await snapshot(env, bill["id"]) == before


async def test_the_longest_key_is_accepted(env, bill):
    assert (await pay(env, bill["id"], key="k" * 255)).status_code == 201


@pytest.mark.parametrize(("method", "token"), [("cash", None), ("card", "tok_visa"), ("card", "tok_declined")])
async def test_the_same_key_and_body_replay_the_first_response(env, bill, method, token):
    key = new_key()
    extra = {"card_token": token} if token else {}
    first = await pay(env, bill["id"], "100.00", method, key=key, **extra)
    state = await snapshot(env, bill["id"])

    again = await pay(env, bill["id"], "100.00", method, key=key, **extra)
    once_more = await pay(env, bill["id"], "100.00", method, key=key, **extra)

    assert first.status_code in (201, 402)
    for replay in (again, once_more):
        assert (replay.status_code, replay.content) == (first.status_code, first.content)
        assert replay.headers["content-type"] == first.headers["content-type"]
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.headers.get("Location") == first.headers.get("Location")
    assert "Idempotent-Replayed" not in first.headers
    replays = await env.count("audit_events", "action = 'payment.replay'")
    assert {**await snapshot(env, bill["id"]), "audit": state["audit"]} == state
    assert replays == 2
    assert simulated_gateway(env).charge_calls == (1 if method == "card" else 0)


async def test_an_equivalent_body_is_the_same_request(env, bill):
    key = new_key()
    first = await pay(env, bill["id"], "100.00", key=key)
    body = {"method": "cash", "amount": 100, "invoice_id": bill["id"].upper()}
    again = await env.client.post(PAYMENTS, json=body, headers={**env.admin, "Idempotency-Key": key})
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    "change", [{"amount": "100.01"}, {"method": "upi"}, {"method": "card", "card_token": "tok_visa"}, {"invoice": 1}]
)
async def test_the_same_key_with_a_different_request_is_422(env, bill, change):
    key = new_key()
    await pay(env, bill["id"], "100.00", key=key)
    other_bill = await unpaid_invoice(env) if change.pop("invoice", None) else bill
    before = await snapshot(env, bill["id"])

    response = await pay(env, other_bill["id"], **{"amount": "100.00", "method": "cash", **change}, key=key)

    assert_problem(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert await snapshot(env, bill["id"]) == before


async def test_a_key_of_a_payment_is_not_reused_for_a_refund(env, bill):
    key = new_key()
    paid = await pay(env, bill["id"], key=key)
    response = await env.client.post(
        f"{PAYMENTS}/{paid.json()['id']}/refunds",
        json={"amount": "1.00", "reason": "Typo"},
        headers={**env.admin, "Idempotency-Key": key},
    )
    assert_problem(response, 422, "IDEMPOTENCY_KEY_REUSED")


async def test_keys_belong_to_the_user_who_sent_them(env, bill):
    clerk = await env.user(["billing_clerk"])
    key = new_key()
    mine = await pay(env, bill["id"], "100.00", key=key)
    theirs = await pay(env, bill["id"], "100.00", key=key, headers=clerk)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert "Idempotent-Replayed" not in theirs.headers


async def test_a_refusal_before_any_payment_is_not_stored_under_the_key(env, bill):
    key = new_key()
    assert_problem(await pay(env, bill["id"], "5000.00", key=key), 409, "AMOUNT_EXCEEDS_BALANCE")
    assert await env.count("idempotency_keys") == 0

    # The same key may carry the corrected request, and then it is bound to that one.
    assert (await pay(env, bill["id"], "500.00", key=key)).status_code == 201
    assert_problem(await pay(env, bill["id"], "5000.00", key=key), 422, "IDEMPOTENCY_KEY_REUSED")


async def test_a_duplicate_waits_for_the_first_request_then_replays_it(env, bill):
    gateway = use_gateway(env, GatedGateway())
    key = new_key()
    first = asyncio.create_task(pay(env, bill["id"], "100.00", "card", key=key))
    await asyncio.wait_for(gateway.entered.wait(), 5)

    duplicate = asyncio.create_task(pay(env, bill["id"], "100.00", "card", key=key))
    await asyncio.sleep(0.3)
    assert not duplicate.done()  # it waits while the first is at the gateway
    gateway.gate.set()

    first_response, duplicate_response = await first, await duplicate
    assert first_response.status_code == 201, first_response.text
    assert (duplicate_response.status_code, duplicate_response.content) == (201, first_response.content)
    assert duplicate_response.headers["Idempotent-Replayed"] == "true"
    assert gateway.charge_calls == 1
    assert (await invoice(env, bill["id"]))["amount_paid"] == "100.00"


async def test_a_duplicate_that_waits_too_long_is_409_and_the_first_still_completes(make_env):
    async with make_env(payments={"idempotency_wait_seconds": 0.2}) as env:
        bill = await unpaid_invoice(env)
        gateway = use_gateway(env, GatedGateway())
        key = new_key()
        first = asyncio.create_task(pay(env, bill["id"], "100.00", "card", key=key))
        await asyncio.wait_for(gateway.entered.wait(), 5)

        duplicate = await pay(env, bill["id"], "100.00", "card", key=key)

        problem = assert_problem(duplicate, 409, "IDEMPOTENCY_REQUEST_IN_PROGRESS")
        assert duplicate.headers["Retry-After"] == "1"
        assert problem["detail"]
        gateway.gate.set()
        assert (await first).status_code == 201
        replay = await pay(env, bill["id"], "100.00", "card", key=key)
        assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (201, "true")
        assert gateway.charge_calls == 1
