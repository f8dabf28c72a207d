"""Agents and commissions (issue 16): agents are kept by claims officers; a premium invoice paid accrues its agent's
commission once, however billing's events are delivered (again, duplicated, before the invoice.issued); a payout
pays every accrued commission of an agent and period once, also when asked twice at the same time."""

from __future__ import annotations

import asyncio
import uuid

from caremesh.insurance import contract as insurance
from tests.builders.deliveries import redeliver, relay, waiting
from tests.builders.insurance import (
    AGENTS,
    COMMISSIONS,
    PAYOUTS,
    add_rate,
    invoice_event,
    make_agent,
    make_coverage,
    make_scheme,
    patch,
    premium_billings,
    publish_as_billing,
    run_premiums,
)
from tests.harness import assert_problem, every_page, outbox_payloads


async def _billed(env, agent, period: str = "2030-02", premium: str = "300.00", members: int = 1):
    """`members` coverages sold by `agent` on a new scheme, billed for `period`: their premium billings."""
    scheme = await make_scheme(env)
    await add_rate(env, scheme, 0, None, premium)
    coverages = [await make_coverage(env, scheme=scheme, agent_id=agent["id"]) for _ in range(members)]
    await run_premiums(env, period)
    ours = {c["id"] for c in coverages}
    return [b for b in await premium_billings(env, period=period) if b["coverage_id"] in ours]


async def _pay(env, billing, total: str | None = None) -> uuid.UUID:
    """Billing issues and is paid the premium's invoice; both events delivered."""
    invoice_id = uuid.uuid4()
    total = total or billing["amount"]
    await publish_as_billing(
        env, invoice_event("issued", billing, invoice_id, total), invoice_event("paid", billing, invoice_id, total)
    )
    await env.drain()
    return invoice_id


async def _commissions(env, **filters):
    return await every_page(env, COMMISSIONS, **filters)


# --- agents ---------------------------------------------------------------------------------------------------


async def test_agents_are_created_read_listed_and_edited(env):
    agent = await make_agent(env, percent="12.50", code="ag-north")
    assert (agent["code"], agent["commission_percent"], agent["version"]) == ("AG-NORTH", "12.50", 1)
    url = f"{AGENTS}/{agent['id']}"
    read = await env.client.get(url, headers=env.admin)
    assert (read.json(), read.headers["ETag"]) == (agent, '"1"')
    assert await every_page(env, AGENTS, code="AG-NORTH") == [agent]

    changed = await patch(env, url, {"commission_percent": "15.00", "name": "North"}, version=1)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["commission_percent"], changed.json()["name"], changed.headers["ETag"]) == (
        "15.00",
        "North",
        '"2"',
    )
    assert_problem(await patch(env, url, {"name": "Stale"}, version=1), 412, "VERSION_CONFLICT")
    assert_problem(await patch(env, url, {"code": "X"}, version=2), 422, "VALIDATION_ERROR")
    assert_problem(await patch(env, url, {"commission_percent": "100.01"}, version=2), 422, "VALIDATION_ERROR")
    assert_problem(await env.client.get(f"{AGENTS}/{uuid.uuid4()}", headers=env.admin), 404, "AGENT_NOT_FOUND")


async def test_agent_codes_are_unique_also_when_created_at_once(env):
    await env.warm_pool()
    body = {"code": "AG-SAME", "name": "Same", "commission_percent": "5.00"}
    responses = await asyncio.gather(*(env.client.post(AGENTS, json=body, headers=env.admin) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert_problem(next(r for r in responses if r.status_code == 409), 409, "AGENT_CODE_EXISTS")
    for percent in ("-1", "100.01", "1.001"):
        bad = await env.client.post(
            AGENTS, json={"code": "AG-BAD", "name": "Bad", "commission_percent": percent}, headers=env.admin
        )
        assert_problem(bad, 422, "VALIDATION_ERROR")
    assert len(await every_page(env, AGENTS)) == 1


async def test_claims_officers_keep_agents_and_billing_clerks_pay_them(env):
    officer, clerk = await env.user(["claims_officer"]), await env.user(["billing_clerk"])
    body = {"code": "AG-ROLE", "name": "Role", "commission_percent": "5.00"}
    assert_problem(await env.client.post(AGENTS, json=body, headers=clerk), 403, "FORBIDDEN")
    agent = (await env.client.post(AGENTS, json=body, headers=officer)).json()
    assert (await env.client.get(AGENTS, headers=clerk)).status_code == 200
    payout = {"agent_id": agent["id"], "period": "2030-02"}
    assert_problem(await env.client.post(PAYOUTS, json=payout, headers=officer), 403, "FORBIDDEN")
    assert_problem(await env.client.post(PAYOUTS, json=payout, headers=clerk), 409, "NOTHING_TO_PAY")
    receptionist = await env.user(["receptionist"])
    assert_problem(await env.client.get(COMMISSIONS, headers=receptionist), 403, "FORBIDDEN")


# --- accrual --------------------------------------------------------------------------------------------------


async def test_a_paid_premium_accrues_its_agents_commission_rounded_half_up(env):
    agent = await make_agent(env, percent="2.50")
    [billing] = await _billed(env, agent, premium="101.00")
    invoice_id = await _pay(env, billing)

    [commission] = await _commissions(env, agent_id=agent["id"])
    assert commission["amount"] == "2.53"  # 101.00 x 2.5% = 2.525: HALF_UP
    assert (commission["status"], commission["invoice_id"], commission["premium_billing_id"]) == (
        "accrued",
        str(invoice_id),
        billing["id"],
    )
    assert (commission["period"], commission["currency"], commission["payout_id"]) == ("2030-02", "INR", None)
    [accrued] = [insurance.CommissionAccrued.from_payload(p) for p in await outbox_payloads(env, "commission.accrued")]
    assert (accrued.commission_id, accrued.agent_id) == (uuid.UUID(commission["id"]), uuid.UUID(agent["id"]))
    assert (await premium_billings(env, period="2030-02"))[0]["invoice_id"] == str(invoice_id)


async def test_redelivered_duplicated_or_early_payment_events_accrue_once(env):
    agent = await make_agent(env, percent="10.00")
    [billing] = await _billed(env, agent)
    invoice_id = uuid.uuid4()
    paid = invoice_event("paid", billing, invoice_id, "300.00")
    await publish_as_billing(env, paid)
    await relay(env)
    [delivery] = await waiting(env, "insurance", "invoice.paid")
    await redeliver(env, delivery)  # before billing's invoice.issued was handled
    await redeliver(env, delivery)  # the same event again
    await publish_as_billing(env, paid)  # the same payment as a new event (a new id the inbox cannot know)
    await publish_as_billing(env, invoice_event("issued", billing, invoice_id, "300.00"))
    await env.drain()

    [commission] = await _commissions(env)
    assert (commission["amount"], commission["invoice_id"]) == ("30.00", str(invoice_id))
    assert len(await outbox_payloads(env, "commission.accrued")) == 1
    assert (await premium_billings(env))[0]["invoice_id"] == str(invoice_id)


async def test_the_percent_is_the_one_of_the_day_the_premium_was_billed(env):
    agent = await make_agent(env, percent="10.00")
    [billing] = await _billed(env, agent)
    assert (await patch(env, f"{AGENTS}/{agent['id']}", {"commission_percent": "20.00"}, version=1)).status_code == 200
    await _pay(env, billing)
    assert [c["amount"] for c in await _commissions(env)] == ["30.00"]


async def test_no_agent_or_no_premium_accrues_nothing(env):
    scheme = await make_scheme(env)
    await add_rate(env, scheme, 0, None, "300.00")
    await make_coverage(env, scheme=scheme)
    await run_premiums(env, "2030-02")
    [billing] = await premium_billings(env)
    await _pay(env, billing)
    event = invoice_event("paid", billing, uuid.uuid4(), "300.00")
    await publish_as_billing(env, type(event)(**{**event.__dict__, "premium_billing_id": None, "kind": "manual"}))
    await env.drain()
    assert await _commissions(env) == []


# --- payouts --------------------------------------------------------------------------------------------------


async def test_a_payout_pays_the_periods_accrued_commissions_once(env):
    agent = await make_agent(env, percent="10.00")
    february = await _billed(env, agent, members=2)
    [march] = await _billed(env, agent, period="2030-03", premium="200.00")
    for billing in [*february, march]:
        await _pay(env, billing)

    response = await env.client.post(
        PAYOUTS, json={"agent_id": agent["id"], "period": "2030-02"}, headers={**env.admin, "Idempotency-Key": "po-1"}
    )
    assert response.status_code == 201, response.text
    payout = response.json()
    accrued_in_february = await _commissions(env, period="2030-02")
    assert (payout["agent_id"], payout["period"], payout["amount"], payout["currency"]) == (
        agent["id"],
        "2030-02",
        "60.00",
        "INR",
    )
    assert sorted(payout["commission_ids"]) == sorted(c["id"] for c in accrued_in_february)
    assert {(c["status"], c["payout_id"]) for c in accrued_in_february} == {("paid", payout["id"])}
    assert [c["period"] for c in await _commissions(env, status="accrued")] == ["2030-03"]

    replay = await env.client.post(
        PAYOUTS, json={"agent_id": agent["id"], "period": "2030-02"}, headers={**env.admin, "Idempotency-Key": "po-1"}
    )
    assert (replay.status_code, replay.json(), replay.headers.get("Idempotent-Replayed")) == (201, payout, "true")
    again = await env.client.post(PAYOUTS, json={"agent_id": agent["id"], "period": "2030-02"}, headers=env.admin)
    assert_problem(again, 409, "NOTHING_TO_PAY")
    [made] = await outbox_payloads(env, "commission_payout.made")
    assert (made["payout_id"], made["amount"]) == (payout["id"], "60.00")
    assert await every_page(env, PAYOUTS, agent_id=agent["id"]) == [payout]


async def test_a_commission_accrued_after_its_periods_payout_is_paid_by_the_next(env):
    agent = await make_agent(env, percent="10.00")
    first, late = await _billed(env, agent, members=2)
    await _pay(env, first)
    paid = await env.client.post(PAYOUTS, json={"agent_id": agent["id"], "period": "2030-02"}, headers=env.admin)
    assert paid.status_code == 201, paid.text
    await _pay(env, late, total="300.00")
    second = await env.client.post(PAYOUTS, json={"agent_id": agent["id"], "period": "2030-02"}, headers=env.admin)
    assert second.status_code == 201, second.text
    assert (second.json()["amount"], len(second.json()["commission_ids"])) == ("30.00", 1)
    assert len(await every_page(env, PAYOUTS, agent_id=agent["id"], period="2030-02")) == 2
    assert await _commissions(env, status="accrued") == []


async def test_payouts_asked_at_the_same_time_pay_once(env):
    await env.warm_pool()
    agent = await make_agent(env, percent="10.00")
    for billing in await _billed(env, agent, members=3):
        await _pay(env, billing)
    body = {"agent_id": agent["id"], "period": "2030-02"}
    responses = await asyncio.gather(*(env.client.post(PAYOUTS, json=body, headers=env.admin) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    [made] = [r.json() for r in responses if r.status_code == 201]
    assert (made["amount"], len(made["commission_ids"])) == ("90.00", 3)
    assert len(await every_page(env, PAYOUTS)) == 1
    assert {c["payout_id"] for c in await _commissions(env)} == {made["id"]}


async def test_a_payout_for_an_unknown_agent_or_a_bad_period_is_refused(env):
    unknown = await env.client.post(
        PAYOUTS, json={"agent_id": str(uuid.uuid4()), "period": "2030-02"}, headers=env.admin
    )
    assert_problem(unknown, 404, "AGENT_NOT_FOUND")
    agent = await make_agent(env)
    bad = await env.client.post(PAYOUTS, json={"agent_id": agent["id"], "period": "2030-13"}, headers=env.admin)
    assert_problem(bad, 422, "VALIDATION_ERROR")
    assert await every_page(env, PAYOUTS) == []
