"""Many requests at once on one claim, one invoice or one remittance: exactly one wins, the others get the answer
a retry would, and nothing (accumulators, payments, events) moves twice. On SQLite the writes serialise; on
PostgreSQL they race for real."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

from tests.builders.claims import (
    accumulators,
    act,
    approved_claim,
    create,
    d,
    dispute,
    get_claim,
    history,
    insured_invoice,
    invoice,
    make_claim,
    post_remittance,
    remittance,
    resolve,
    s,
    submitted_claim,
    twin_visit_invoices,
)
from tests.harness import every_page, outbox_payloads


def outcomes(responses) -> Counter:
    return Counter((r.status_code, r.json().get("code")) for r in responses)


async def test_concurrent_processing_adjudicates_once(env):
    case, bill = await insured_invoice(env, benefit={"deductible": "500.00", "annual_limit": "3000.00"})
    claim = await submitted_claim(env, bill)
    await env.warm_pool(8)

    responses = await asyncio.gather(*(act(env, claim, "process") for _ in range(8)))

    assert outcomes(responses) == {(200, None): 1, (409, "INVALID_STATUS_TRANSITION"): 7}, [r.text for r in responses]
    assert (await get_claim(env, claim["id"]))["approved_amount"] == "944.00"
    assert await accumulators(env, case, bill["service_date"], "1000.00") == ("0.00", "2056.00")
    assert len(await outbox_payloads(env, "claim.adjudicated")) == 1
    assert [h["action"] for h in await history(env, claim["id"])].count("adjudicated") == 1


async def test_concurrent_manual_approvals_and_processing_decide_once(env):
    case, bill = await insured_invoice(env, benefit={"annual_limit": "3000.00"})
    claim = await submitted_claim(env, bill)
    await env.warm_pool(6)

    responses = await asyncio.gather(
        *(act(env, claim, "approve", {"approved_amount": "1000.00"}) for _ in range(3)),
        *(act(env, claim, "process") for _ in range(3)),
    )

    assert [r.status_code for r in responses].count(200) == 1, [r.text for r in responses]
    decided = await get_claim(env, claim["id"])
    _, remaining = await accumulators(env, case, bill["service_date"])
    assert remaining == s(Decimal("3000.00") - d(decided["approved_amount"]))
    assert len(await outbox_payloads(env, "claim.adjudicated")) == 1


async def test_the_same_remittance_posted_concurrently_pays_once(env):
    case, bill = await insured_invoice(env)
    claim = await approved_claim(env, bill)
    body = remittance(case.payer["code"], (claim, "1344.00"))
    await env.warm_pool(6)

    responses = await asyncio.gather(*(post_remittance(env, body) for _ in range(6)))

    assert sorted(r.status_code for r in responses) == [200] * 5 + [201], [r.text for r in responses]
    assert all(r.headers.get("idempotent-replayed") == "true" for r in responses if r.status_code == 200)
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert (await invoice(env, bill["id"]))["insurance_paid"] == "1344.00"
    assert (await get_claim(env, claim["id"]))["paid_amount"] == "1344.00"
    assert len(await outbox_payloads(env, "claim.paid")) == 1


async def test_different_remittances_paying_one_claim_concurrently_pay_it_once(env):
    case, bill = await insured_invoice(env)
    claim = await approved_claim(env, bill)
    await env.warm_pool(5)

    responses = await asyncio.gather(
        *(post_remittance(env, remittance(case.payer["code"], (claim, "1344.00"))) for _ in range(5))
    )

    assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
    assert sorted(len(r.json()["posted"]) for r in responses) == [0, 0, 0, 0, 1]
    reasons = [u["reason"] for r in responses for u in r.json()["unmatched"]]
    assert reasons == ["ALREADY_PAID"] * 4
    assert (await invoice(env, bill["id"]))["insurance_paid"] == "1344.00"
    assert len(await outbox_payloads(env, "claim.paid")) == 1


async def test_concurrent_claims_for_one_invoice_create_one(env):
    _, bill = await insured_invoice(env)
    await env.warm_pool(6)

    responses = await asyncio.gather(*(create(env, bill["id"]) for _ in range(6)))

    assert outcomes(responses) == {(201, None): 1, (409, "CLAIM_EXISTS"): 5}, [r.text for r in responses]
    [created] = [r.json() for r in responses if r.status_code == 201]
    assert {r.json()["claim_id"] for r in responses if r.status_code == 409} == {created["id"]}
    assert [c["id"] for c in await every_page(env, "/api/v1/claims")] == [created["id"]]


async def test_concurrent_submissions_submit_once(env):
    _, bill = await insured_invoice(env)
    claim = await make_claim(env, bill)
    await env.warm_pool(6)

    responses = await asyncio.gather(*(act(env, claim, "submit") for _ in range(6)))

    assert outcomes(responses) == {(200, None): 1, (409, "INVALID_STATUS_TRANSITION"): 5}, [r.text for r in responses]
    assert len(await outbox_payloads(env, "claim.submitted")) == 1


async def test_concurrent_disputes_open_one(env):
    _, bill = await insured_invoice(env)
    claim = await approved_claim(env, bill, "1000.00")
    await env.warm_pool(6)

    responses = await asyncio.gather(*(dispute(env, claim) for _ in range(6)))

    assert outcomes(responses) == {(201, None): 1, (409, "DISPUTE_EXISTS"): 5}, [r.text for r in responses]
    assert len(await every_page(env, "/api/v1/disputes", claim_id=claim["id"])) == 1


async def test_concurrent_submissions_of_twin_claims_let_one_through(env):
    bills = await twin_visit_invoices(env, (30, 30, 30, 30))
    claims = [await make_claim(env, bill) for bill in bills]
    await env.warm_pool(4)

    responses = await asyncio.gather(*(act(env, claim, "submit") for claim in claims))

    assert outcomes(responses) == {(200, None): 1, (409, "DUPLICATE_CLAIM"): 3}, [r.text for r in responses]
    [winner] = [r.json() for r in responses if r.status_code == 200]
    assert {r.json()["duplicate_of"] for r in responses if r.status_code == 409} == {winner["id"]}


async def test_concurrent_resolutions_of_one_dispute_overturn_once(env):
    case, bill = await insured_invoice(env, benefit={"annual_limit": "3000.00"})
    claim = await approved_claim(env, bill, "1000.00")
    opened = (await dispute(env, claim)).json()
    await env.warm_pool(5)

    responses = await asyncio.gather(*(resolve(env, opened["id"], "overturned") for _ in range(5)))

    assert outcomes(responses) == {(200, None): 1, (409, "DISPUTE_RESOLVED"): 4}, [r.text for r in responses]
    assert (await get_claim(env, claim["id"]))["approved_amount"] == "1344.00"
    assert await accumulators(env, case, bill["service_date"]) == ("0.00", "1656.00")
    assert [h["action"] for h in await history(env, claim["id"])].count("dispute_overturned") == 1
