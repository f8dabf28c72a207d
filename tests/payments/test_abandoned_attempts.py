"""Attempts abandoned between their two transactions and never retried are resolved by the payments job,
from what the gateway did under their key: charged -> completed, declined -> failed, never seen -> undone."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from caremesh.payments import service
from caremesh.payments.gateway import GatewayResult, SimulatedGateway
from caremesh.payments.jobs import AbandonedAttemptResolver
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
    refund,
    unpaid_invoice,
)
from tests.builders.scheduling import travel
from tests.payments.gateways import (
    BrokenGateway,
    CrashAfterChargeGateway,
    CrashAfterRefundGateway,
    GatedLookupGateway,
    use_gateway,
)

# Abandoned after max(wait, gateway timeout) = 5 s.
SETTINGS = {"payments": {"idempotency_wait_seconds": 5, "payment_gateway_timeout_seconds": 5}}


def resolver(env) -> AbandonedAttemptResolver:
    return next(job for job in env.app.state.workers.jobs if isinstance(job, AbandonedAttemptResolver))


async def a_day_later(env) -> None:
    env.clock.advance(days=1)
    await travel(env, env.clock.now().isoformat())  # log in again: tokens expired


async def void(env, invoice_id: str):
    return await env.client.post(f"{INVOICES}/{invoice_id}/void", json={"reason": "Billed in error"}, headers=env.admin)


async def test_a_charged_attempt_nobody_retries_is_completed_by_the_job_and_the_invoice_paid(make_env):
    async with make_env(**SETTINGS) as env:
        bill = await unpaid_invoice(env)
        gateway = use_gateway(env, CrashAfterChargeGateway())
        key = new_key()
        crashed = await pay(env, bill["id"], "100.00", "card", key=key)
        assert_problem(crashed, 502, "GATEWAY_UNAVAILABLE")
        gateway.crashing = False
        assert gateway.captured() == Decimal("100.00")
        succeeded = metric("payments_success_total", method="card")

        await a_day_later(env)
        await env.drain()

        assert await env.count("payments", "status = 'pending'") == 0
        [completed] = (await env.client.get(PAYMENTS, headers=env.admin)).json()["items"]
        assert (completed["status"], completed["amount"]) == ("completed", "100.00")
        figures = await invoice(env, bill["id"])
        assert (figures["amount_paid"], figures["balance_due"]) == ("100.00", "1580.00")
        [event] = await outbox_payloads(env, "payment.completed")
        assert (event["payment_id"], event["balance_due"]) == (completed["id"], "1580.00")
        assert metric("payments_success_total", method="card") == succeeded + 1
        assert gateway.charge_calls == 1  # the job asked, it did not charge

        # The client's retry replays what the job stored under its key.
        replay = await pay(env, bill["id"], "100.00", "card", key=key)
        assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (201, "true")
        assert replay.json() == completed
        assert gateway.charge_calls == 1

        # Nothing is held any more: the rest can be paid, and the invoice is paid.
        await make_payment(env, bill["id"], "1580.00")
        assert (await invoice(env, bill["id"]))["status"] == "paid"


async def test_an_attempt_the_gateway_never_saw_is_undone_by_the_job_and_the_invoice_payable_again(make_env):
    async with make_env(**SETTINGS) as env:
        bill = await unpaid_invoice(env)
        gateway = use_gateway(env, BrokenGateway())
        key = new_key()
        assert_problem(await pay(env, bill["id"], "100.00", "card", key=key), 502, "GATEWAY_UNAVAILABLE")
        # Until it is resolved, the attempt holds its amount.
        assert await env.count("payments", "status = 'pending'") == 1
        assert_problem(await pay(env, bill["id"], FULL_PRICE), 409, "AMOUNT_EXCEEDS_BALANCE")

        await a_day_later(env)
        await env.drain()

        assert await env.count("payments") == 0
        assert await env.count("idempotency_keys", "state = 'released'") == 1
        assert gateway.captured() == Decimal("0.00")
        assert await outbox_payloads(env, "payment.completed") == []
        # The key is free: a retry is a new attempt, under the same gateway idempotency key.
        gateway.broken = False
        retried = await pay(env, bill["id"], "100.00", "card", key=key)
        assert retried.status_code == 201, retried.text
        assert "Idempotent-Replayed" not in retried.headers
        await make_payment(env, bill["id"], "1580.00")
        assert (await invoice(env, bill["id"]))["status"] == "paid"


async def test_an_invoice_whose_abandoned_attempt_was_never_charged_can_be_voided_once_resolved(make_env):
    async with make_env(**SETTINGS) as env:
        bill = await unpaid_invoice(env)
        use_gateway(env, BrokenGateway())
        assert_problem(await pay(env, bill["id"], "100.00", "card"), 502, "GATEWAY_UNAVAILABLE")
        assert (await void(env, bill["id"])).status_code == 409  # the reservation blocks it

        await a_day_later(env)
        await env.drain()

        voided = await void(env, bill["id"])
        assert voided.status_code == 200, voided.text
        assert voided.json()["status"] == "void"


async def test_a_declined_attempt_nobody_retries_is_failed_by_the_job_like_any_decline(make_env):
    async with make_env(**SETTINGS) as env:
        bill = await unpaid_invoice(env)
        use_gateway(env, CrashAfterChargeGateway())
        key = new_key()
        crashed = await pay(env, bill["id"], "100.00", "card", key=key, card_token="tok_declined")
        assert_problem(crashed, 502, "GATEWAY_UNAVAILABLE")

        await a_day_later(env)
        await env.drain()

        [failed] = (await env.client.get(PAYMENTS, headers=env.admin)).json()["items"]
        assert (failed["status"], failed["failure_reason"]) == ("failed", "card declined")
        assert len(await outbox_payloads(env, "payment.failed")) == 1
        replay = await pay(env, bill["id"], "100.00", "card", key=key, card_token="tok_declined")
        body = assert_problem(replay, 402, "PAYMENT_DECLINED")
        assert (body["payment_id"], replay.headers["Idempotent-Replayed"]) == (failed["id"], "true")
        assert (await invoice(env, bill["id"]))["balance_due"] == FULL_PRICE
        await make_payment(env, bill["id"], FULL_PRICE)


async def test_the_job_leaves_attempts_alone_until_they_count_as_abandoned(make_env):
    async with make_env(**SETTINGS) as env:
        bill = await unpaid_invoice(env)
        use_gateway(env, CrashAfterChargeGateway())
        assert_problem(await pay(env, bill["id"], "100.00", "card"), 502, "GATEWAY_UNAVAILABLE")

        env.clock.advance(seconds=4)  # its request might still be alive
        assert await resolver(env).run_once() == 0
        assert await env.count("payments", "status = 'pending'") == 1

        env.clock.advance(seconds=1)
        assert await resolver(env).run_once() == 1
        assert await env.count("payments", "status = 'completed'") == 1


async def test_a_retry_during_the_jobs_gateway_lookup_waits_for_it_and_replays_its_outcome(make_env):
    async with make_env(**SETTINGS) as env:
        bill = await unpaid_invoice(env)
        gateway = use_gateway(env, GatedLookupGateway())
        key = new_key()
        assert_problem(await pay(env, bill["id"], "100.00", "card", key=key), 502, "GATEWAY_UNAVAILABLE")
        gateway.crashing = False
        env.clock.advance(seconds=6)

        job = asyncio.create_task(resolver(env).run_once())
        await asyncio.wait_for(gateway.entered.wait(), 5)  # the job took the attempt over and asks the gateway
        retry = asyncio.create_task(pay(env, bill["id"], "100.00", "card", key=key))
        await asyncio.sleep(0.3)
        assert not retry.done()  # it waits for the job: the takeover is fresh
        gateway.gate.set()

        assert await job == 1
        replay = await retry
        assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (201, "true"), replay.text
        assert gateway.charge_calls == 1
        assert await env.count("payments") == 1
        assert len(await outbox_payloads(env, "payment.completed")) == 1
        assert (await invoice(env, bill["id"]))["amount_paid"] == "100.00"


async def test_a_retry_that_takes_over_from_a_stalled_job_wins_and_the_job_leaves_its_outcome_alone(make_env):
    async with make_env(**SETTINGS) as env:
        bill = await unpaid_invoice(env)
        gateway = use_gateway(env, GatedLookupGateway())
        key = new_key()
        assert_problem(await pay(env, bill["id"], "100.00", "card", key=key), 502, "GATEWAY_UNAVAILABLE")
        gateway.crashing = False
        env.clock.advance(seconds=6)

        job = asyncio.create_task(resolver(env).run_once())
        await asyncio.wait_for(gateway.entered.wait(), 5)
        env.clock.advance(seconds=6)  # the job's own takeover now counts as abandoned: a retry resumes it
        recovered = await pay(env, bill["id"], "100.00", "card", key=key)
        assert recovered.status_code == 201, recovered.text
        assert "Idempotent-Replayed" not in recovered.headers
        gateway.gate.set()

        assert await job == 0  # settled by the retry: the job's answer does not count
        assert (gateway.charge_calls, gateway.captured()) == (2, Decimal("100.00"))
        assert await env.count("payments") == 1
        assert len(await outbox_payloads(env, "payment.completed")) == 1
        assert (await invoice(env, bill["id"]))["amount_paid"] == "100.00"


async def test_a_job_that_finds_the_attempt_already_retried_does_nothing(make_env):
    async with make_env(**SETTINGS) as env:
        bill = await unpaid_invoice(env)
        gateway = use_gateway(env, CrashAfterChargeGateway())
        key = new_key()
        assert_problem(await pay(env, bill["id"], "100.00", "card", key=key), 502, "GATEWAY_UNAVAILABLE")
        gateway.crashing = False
        env.clock.advance(seconds=6)
        async with env.db.read_sessionmaker() as session:
            [row_id] = await service.abandoned_attempts(session, env.clock.now(), env.app.state.settings, limit=10)

        assert (await pay(env, bill["id"], "100.00", "card", key=key)).status_code == 201

        # Listed before the retry, resolved after it: the key row's lock and state decide.
        begin = env.app.state.uow_factory.begin
        assert await service.resolve_abandoned(begin, gateway, row_id) is False
        assert await resolver(env).run_once() == 0
        assert len(await outbox_payloads(env, "payment.completed")) == 1


async def test_an_attempt_the_gateway_cannot_be_asked_about_is_resolved_on_a_later_run(make_env):
    async with make_env(**SETTINGS) as env:
        bill = await unpaid_invoice(env)
        gateway = use_gateway(env, GatedLookupGateway(lookups_fail=True))
        gateway.gate.set()
        assert_problem(await pay(env, bill["id"], "100.00", "card"), 502, "GATEWAY_UNAVAILABLE")
        gateway.crashing = False
        env.clock.advance(seconds=6)

        assert await resolver(env).run_once() == 0
        assert await env.count("payments", "status = 'pending'") == 1
        gateway.lookups_fail = False
        assert await resolver(env).run_once() == 0  # taken over just now: not abandoned again yet

        env.clock.advance(seconds=6)
        assert await resolver(env).run_once() == 1
        assert (await invoice(env, bill["id"]))["amount_paid"] == "100.00"


@pytest.fixture
async def card_payment(env):
    bill = await unpaid_invoice(env)
    gateway = use_gateway(env, CrashAfterRefundGateway(crashing=False))
    paid = await make_payment(env, bill["id"], "300.00", "card")
    return bill, paid, gateway


async def test_a_refund_made_at_the_gateway_that_nobody_retries_is_completed_by_the_job(env, card_payment):
    bill, paid, gateway = card_payment
    gateway.crashing = True
    key = new_key()
    assert_problem(await refund(env, paid["id"], "100.00", key=key), 502, "GATEWAY_UNAVAILABLE")
    gateway.crashing = False

    await a_day_later(env)
    await env.drain()

    assert await env.count("refunds", "status = 'pending'") == 0
    [event] = await outbox_payloads(env, "payment.refunded")
    assert (event["amount"], event["balance_due"]) == ("100.00", "1480.00")
    assert (await invoice(env, bill["id"]))["amount_paid"] == "200.00"
    replay = await refund(env, paid["id"], "100.00", key=key)
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (201, "true")
    assert replay.json()["id"] == event["refund_id"]
    assert len(gateway.refunds) == 1


async def test_a_refund_the_gateway_never_saw_is_undone_by_the_job_and_its_amount_refundable_again(env):
    bill = await unpaid_invoice(env)
    gateway = use_gateway(env, BrokenGateway(broken=False))
    paid = await make_payment(env, bill["id"], "300.00", "card")
    gateway.broken = True
    assert_problem(await refund(env, paid["id"], "100.00"), 502, "GATEWAY_UNAVAILABLE")
    assert_problem(await refund(env, paid["id"], "300.00"), 409, "REFUND_EXCEEDS_PAYMENT")  # 100 still held

    await a_day_later(env)
    await env.drain()

    assert await env.count("refunds") == 0
    gateway.broken = False
    assert (await refund(env, paid["id"], "300.00")).status_code == 201
    assert (await invoice(env, bill["id"]))["amount_paid"] == "0.00"


async def test_the_simulated_gateway_answers_lookups_from_its_memory_of_keys():
    gateway = SimulatedGateway()
    charged = await gateway.charge("tok_visa", Decimal("10.00"), "INR", "k1")
    declined = await gateway.charge("tok_declined", Decimal("10.00"), "INR", "k2")
    assert charged.reference is not None
    refunded = await gateway.refund(charged.reference, Decimal("5.00"), "INR", "k3")

    assert await gateway.find_charge("k1") == charged
    assert await gateway.find_charge("k2") == declined == GatewayResult(False, None, "card declined")
    assert await gateway.find_charge("unknown") is None
    assert await gateway.find_refund("k3") == refunded
    assert await gateway.find_refund("k1") is None
    assert gateway.charge_calls == 2  # lookups charge nothing
