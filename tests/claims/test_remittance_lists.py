"""Remittances as received: a list (newest first, by payer and clinic dates of receipt) and one remittance with its
items, matched and unmatched, exactly as posted."""

from __future__ import annotations

import pytest

from tests.builders.claims import (
    approved_claim,
    insured_invoice,
    ok,
    post_remittance,
    remittance,
    today,
    travel_by,
    x12_835,
)
from tests.harness import assert_problem, every_page

API = "/api/v1"
REMITTANCES = f"{API}/reconciliation/remittances"


async def three_days_of_remittances(env):
    """Day 1: payer OTHER (unmatched); day 2: the case's payer, one claim paid and one unknown number; day 3:
    OTHER again, as an 835. Returns (the posted answers oldest first, the days, the case's payer code)."""
    case, bill = await insured_invoice(env)
    claim = await approved_claim(env, bill)
    code = case.payer["code"]
    days, posted = [], []
    days.append(today(env))
    posted.append(ok(await post_remittance(env, remittance("OTHER", ("CLM-NOPE-1", "10.00"))), 201))
    await travel_by(env, days=1)
    days.append(today(env))
    paying = remittance(code, (claim, claim["approved_amount"]), ("CLM-NOPE-2", "5.00"))
    posted.append(ok(await post_remittance(env, paying), 201))
    await travel_by(env, days=1)
    days.append(today(env))
    posted.append(ok(await post_remittance(env, x12_835("OTHER", [("CLM-NOPE-3", "50.00", "40.00")])), 201))
    return posted, days, code


def ids(items):
    return [item["id"] for item in items]


async def test_remittances_are_listed_newest_first_and_filtered(env):
    posted, days, code = await three_days_of_remittances(env)
    first, second, third = posted

    listed = await every_page(env, REMITTANCES, limit=1)

    assert ids(listed) == [third["id"], second["id"], first["id"]]
    assert listed[1] == {
        "id": second["id"],
        "remittance_id": second["remittance_id"],
        "payer_code": code,
        "format": "json",
        "received_at": second["received_at"],
        "currency": second["currency"],
        "paid_total": second["paid_total"],
        "posted_amount": second["posted_amount"],
        "unmatched_amount": "5.00",
        "posted_count": 1,
        "unmatched_count": 1,
    }
    assert listed[0]["format"] == "x12_835"
    assert ids(await every_page(env, REMITTANCES, payer_code="OTHER")) == [third["id"], first["id"]]
    assert ids(await every_page(env, REMITTANCES, payer_code=code)) == [second["id"]]
    assert ids(await every_page(env, REMITTANCES, **{"from": days[1], "to": days[1]})) == [second["id"]]
    assert ids(await every_page(env, REMITTANCES, **{"from": days[1]})) == [third["id"], second["id"]]
    assert ids(await every_page(env, REMITTANCES, to=days[0])) == [first["id"]]
    assert await every_page(env, REMITTANCES, payer_code="NOBODY") == []


async def test_a_remittance_is_read_with_its_items_as_posted(env):
    posted, _, _ = await three_days_of_remittances(env)

    for answer in posted:
        read = await env.client.get(f"{REMITTANCES}/{answer['id']}", headers=env.admin)
        assert ok(read) == answer  # what POST /reconciliation/process answered, items and reasons included
    second = posted[1]
    assert [item["claim_number"] for item in second["posted"]] == [second["posted"][0]["claim_number"]]
    assert [(item["claim_number"], item["reason"]) for item in second["unmatched"]] == [
        ("CLM-NOPE-2", "CLAIM_NOT_FOUND")
    ]
    assert await env.count("audit_events", "action = 'remittance.read'") == len(posted)


async def test_unknown_remittances_and_backward_ranges_are_refused(env):
    unknown = "00000000-0000-4000-8000-000000000000"

    assert_problem(await env.client.get(f"{REMITTANCES}/{unknown}", headers=env.admin), 404, "REMITTANCE_NOT_FOUND")
    backwards = await env.client.get(REMITTANCES, params={"from": "2030-01-09", "to": "2030-01-08"}, headers=env.admin)
    assert_problem(backwards, 422, "VALIDATION_ERROR")
    forged = await env.client.get(REMITTANCES, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=env.admin)
    assert_problem(forged, 422, "INVALID_CURSOR")


@pytest.mark.parametrize(
    ("roles", "status"),
    [(["billing_clerk"], 200), (["claims_officer"], 200), (["receptionist"], 403), (["doctor"], 403)],
)
async def test_who_reads_remittances_is_who_reads_the_report(env, roles, status):
    posted = ok(await post_remittance(env, remittance("OTHER", ("CLM-NOPE-1", "10.00"))), 201)
    headers = await env.user(roles)

    listed = await env.client.get(REMITTANCES, headers=headers)
    read = await env.client.get(f"{REMITTANCES}/{posted['id']}", headers=headers)

    assert (listed.status_code, read.status_code) == (status, status)
