"""Disputes: a rejected or partly approved claim may be disputed once at a time; upheld leaves the claim, overturned
raises its approved amount (and the accumulators by the difference)."""

from __future__ import annotations

import pytest

from tests.builders.billing import rfc3339
from tests.builders.claims import (
    DISPUTES,
    accumulators,
    approved_claim,
    claims_officer,
    dispute,
    get_claim,
    history,
    insured_invoice,
    make_claim,
    ok,
    post_remittance,
    rejected_claim,
    remittance,
    resolve,
    submitted_claim,
)
from tests.harness import assert_problem, every_page


async def partly_approved(env, **benefit):
    """A claim for 1344.00 approved for 1000.00 (annual limit 3000.00 unless told otherwise)."""
    case, bill = await insured_invoice(env, benefit={"annual_limit": "3000.00", **benefit})
    return case, bill, await approved_claim(env, bill, "1000.00")


async def test_a_partly_approved_claim_is_disputed(env):
    _, _, claim = await partly_approved(env)
    officer = await claims_officer(env)

    response = await dispute(env, claim, "Benefit applies in full", officer)

    opened = ok(response, 201)
    assert {k: opened[k] for k in ("claim_id", "reason", "status", "outcome", "approved_amount", "resolved_at")} == {
        "claim_id": claim["id"],
        "reason": "Benefit applies in full",
        "status": "open",
        "outcome": None,
        "approved_amount": None,
        "resolved_at": None,
    }
    assert opened["created_at"] == rfc3339(env.clock.now())
    assert ok(await env.client.get(f"{DISPUTES}/{opened['id']}", headers=officer)) == opened


@pytest.mark.parametrize("status", ["draft", "submitted", "approved", "paid"])
async def test_only_rejected_or_partly_approved_claims_are_disputed(env, status):
    case, bill = await insured_invoice(env)
    if status == "draft":
        claim = await make_claim(env, bill)
    elif status == "submitted":
        claim = await submitted_claim(env, bill)
    else:
        claim = await approved_claim(env, bill)
    if status == "paid":
        ok(await post_remittance(env, remittance(case.payer["code"], (claim, "1344.00"))), 201)

    assert_problem(await dispute(env, claim), 409, "INVALID_STATUS_TRANSITION")
    assert await every_page(env, DISPUTES) == []


async def test_an_unknown_claim_cannot_be_disputed(env):
    missing = {"id": "00000000-0000-4000-8000-000000000000"}
    assert_problem(await dispute(env, missing), 404, "CLAIM_NOT_FOUND")


async def test_one_open_dispute_per_claim(env):
    _, _, claim = await partly_approved(env)
    first = ok(await dispute(env, claim), 201)

    assert_problem(await dispute(env, claim, "Again"), 409, "DISPUTE_EXISTS")

    ok(await resolve(env, first["id"], "upheld"))
    second = ok(await dispute(env, claim, "New evidence"), 201)
    assert [d["id"] for d in await every_page(env, DISPUTES, claim_id=claim["id"], status="open")] == [second["id"]]


async def test_an_upheld_dispute_leaves_the_claim_as_it_was(env):
    case, bill, claim = await partly_approved(env)
    before = await get_claim(env, claim["id"])
    opened = ok(await dispute(env, claim), 201)

    resolved = ok(await resolve(env, opened["id"], "upheld"))

    assert (resolved["status"], resolved["outcome"], resolved["resolved_at"]) == (
        "resolved",
        "upheld",
        rfc3339(env.clock.now()),
    )
    assert await get_claim(env, claim["id"]) == before
    assert await accumulators(env, case, bill["service_date"]) == ("0.00", "2000.00")


async def test_an_overturned_dispute_approves_the_claimed_amount_by_default(env):
    case, bill, claim = await partly_approved(env)
    opened = ok(await dispute(env, claim), 201)

    resolved = ok(await resolve(env, opened["id"], "overturned"))

    assert (resolved["status"], resolved["outcome"], resolved["approved_amount"]) == (
        "resolved",
        "overturned",
        "1344.00",
    )
    after = await get_claim(env, claim["id"])
    assert (after["status"], after["approved_amount"]) == ("approved", "1344.00")
    last = (await history(env, claim["id"]))[-1]
    assert (last["from_status"], last["to_status"], last["action"], last["approved_amount"]) == (
        "partially_approved",
        "approved",
        "dispute_overturned",
        "1344.00",
    )
    # The limit moves by the difference: 1000.00 + 344.00 of 3000.00.
    assert await accumulators(env, case, bill["service_date"]) == ("0.00", "1656.00")


async def test_an_overturned_dispute_may_approve_a_part(env):
    case, bill, claim = await partly_approved(env)
    opened = ok(await dispute(env, claim), 201)

    ok(await resolve(env, opened["id"], "overturned", approved_amount="1200.00"))

    after = await get_claim(env, claim["id"])
    assert (after["status"], after["approved_amount"]) == ("partially_approved", "1200.00")
    assert await accumulators(env, case, bill["service_date"]) == ("0.00", "1800.00")


async def test_an_overturned_rejection_is_approved_and_then_paid(env):
    case, bill = await insured_invoice(env)
    claim = await rejected_claim(env, bill)
    opened = ok(await dispute(env, claim), 201)

    ok(await resolve(env, opened["id"], "overturned", approved_amount="1344.00"))

    assert (await get_claim(env, claim["id"]))["status"] == "approved"
    posted = ok(await post_remittance(env, remittance(case.payer["code"], (claim, "1344.00"))), 201)
    assert [p["claim_id"] for p in posted["posted"]] == [claim["id"]]


async def test_an_overturned_amount_must_be_above_the_current_and_within_the_claim(env):
    case, bill, claim = await partly_approved(env)
    opened = ok(await dispute(env, claim), 201)

    for amount in ("1000.00", "999.99", "1344.01", "0.00"):
        response = await resolve(env, opened["id"], "overturned", approved_amount=amount)
        assert response.status_code == 422, (amount, response.text)

    assert (await get_claim(env, claim["id"]))["approved_amount"] == "1000.00"
    assert ok(await env.client.get(f"{DISPUTES}/{opened['id']}", headers=env.admin))["status"] == "open"
    assert await accumulators(env, case, bill["service_date"]) == ("0.00", "2000.00")


async def test_a_resolved_dispute_is_not_resolved_again(env):
    _, _, claim = await partly_approved(env)
    opened = ok(await dispute(env, claim), 201)
    ok(await resolve(env, opened["id"], "upheld"))

    assert_problem(await resolve(env, opened["id"], "overturned"), 409, "DISPUTE_RESOLVED")
    assert (await get_claim(env, claim["id"]))["approved_amount"] == "1000.00"


async def test_a_bad_outcome_is_refused(env):
    _, _, claim = await partly_approved(env)
    opened = ok(await dispute(env, claim), 201)
    assert_problem(await resolve(env, opened["id"], "maybe"), 422, "VALIDATION_ERROR")


async def test_disputes_are_listed_by_claim_and_status(env):
    _, _, one = await partly_approved(env)
    _, bill = await insured_invoice(env)
    two = await rejected_claim(env, bill)
    first = ok(await dispute(env, one), 201)
    second = ok(await dispute(env, two), 201)
    ok(await resolve(env, first["id"], "upheld"))

    async def ids(**filters) -> list[str]:
        return [d["id"] for d in await every_page(env, DISPUTES, limit=1, **filters)]

    assert sorted(await ids()) == sorted([first["id"], second["id"]])
    assert await ids(claim_id=one["id"]) == [first["id"]]
    assert await ids(claim_id=two["id"]) == [second["id"]]
    assert await ids(status="open") == [second["id"]]
    assert await ids(status="resolved") == [first["id"]]
    missing = await env.client.get(f"{DISPUTES}/00000000-0000-4000-8000-000000000000", headers=env.admin)
    assert missing.status_code == 404, missing.text
