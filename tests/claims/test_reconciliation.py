"""Reconciliation: a payer's remittance (JSON or X12 835) posts payments to approved claims and their invoices once,
whatever is sent again; what cannot be posted is reported with its reason; the report sums it up by date."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from tests.builders.billing import rfc3339
from tests.builders.claims import (
    approved_claim,
    claims_officer,
    get_claim,
    history,
    insured,
    insured_invoice,
    invoice,
    make_claim,
    ok,
    post_remittance,
    rejected_claim,
    remittance,
    report,
    submitted_claim,
    today,
    travel_by,
    visit_invoice,
    x12_835,
)
from tests.builders.scheduling import travel
from tests.harness import assert_problem, outbox_payloads

UNKNOWN = "CLM-2099-999999"


async def approved(env, **options):
    """(case, invoice, claim approved for its 1344.00)."""
    case, bill = await insured_invoice(env, **options)
    return case, bill, await approved_claim(env, bill)


async def test_a_remittance_pays_the_claim_and_the_invoices_insurance_share(env):
    case, bill, claim = await approved(env)
    officer = await claims_officer(env)
    body = remittance(case.payer["code"], (claim, "1344.00"), remittance_id="EFT-1001")

    response = await post_remittance(env, body, officer)

    posted = ok(response, 201)
    assert {k: posted[k] for k in ("remittance_id", "payer_code", "format", "received_at")} == {
        "remittance_id": "EFT-1001",
        "payer_code": case.payer["code"],
        "format": "json",
        "received_at": rfc3339(env.clock.now()),
    }
    assert (posted["paid_total"], posted["posted_amount"], posted["unmatched_amount"]) == ("1344.00", "1344.00", "0.00")
    assert posted["posted"] == [
        {
            "claim_number": claim["number"],
            "claim_id": claim["id"],
            "paid_amount": "1344.00",
            "adjustment_codes": ["CO-45"],
        }
    ]
    assert posted["unmatched"] == []
    paid = await get_claim(env, claim["id"])
    assert (paid["status"], paid["paid_amount"], paid["paid_at"]) == ("paid", "1344.00", rfc3339(env.clock.now()))
    assert (await history(env, claim["id"]))[-1]["action"] == "paid"
    assert (await invoice(env, bill["id"]))["insurance_paid"] == "1344.00"
    [event] = await outbox_payloads(env, "claim.paid")
    assert (event["claim_id"], event["number"], event["invoice_id"], event["remittance_id"]) == (
        claim["id"],
        claim["number"],
        bill["id"],
        "EFT-1001",
    )
    assert event["paid_amount"] in ("1344.00", "1344", 1344)


async def test_a_payer_may_pay_less_than_approved(env):
    case, bill, claim = await approved(env)

    ok(await post_remittance(env, remittance(case.payer["code"], (claim, "1200.50"))), 201)

    paid = await get_claim(env, claim["id"])
    assert (paid["status"], paid["paid_amount"]) == ("paid", "1200.50")
    assert (await invoice(env, bill["id"]))["insurance_paid"] == "1200.50"


async def test_the_same_remittance_again_posts_nothing_twice(env):
    case, bill, claim = await approved(env)
    body = remittance(case.payer["code"], (claim, "1344.00"))
    first = await post_remittance(env, body)
    assert first.status_code == 201, first.text
    await travel_by(env, minutes=5)

    again = await post_remittance(env, body)

    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert (await invoice(env, bill["id"]))["insurance_paid"] == "1344.00"
    assert len(await outbox_payloads(env, "claim.paid")) == 1
    assert [h["action"] for h in await history(env, claim["id"])].count("paid") == 1


async def test_the_same_remittance_id_with_other_items_is_a_conflict(env):
    case, bill, claim = await approved(env)
    _, other_bill = await insured_invoice(env)
    other = await approved_claim(env, other_bill)
    ok(await post_remittance(env, remittance(case.payer["code"], (claim, "1344.00"), remittance_id="EFT-7")), 201)

    changed = remittance(case.payer["code"], (claim, "1000.00"), remittance_id="EFT-7")
    assert_problem(await post_remittance(env, changed), 409, "REMITTANCE_CONFLICT")
    more = remittance(case.payer["code"], (claim, "1344.00"), (other, "1344.00"), remittance_id="EFT-7")
    assert_problem(await post_remittance(env, more), 409, "REMITTANCE_CONFLICT")

    assert (await get_claim(env, other["id"]))["status"] == "approved"
    assert (await invoice(env, bill["id"]))["insurance_paid"] == "1344.00"
    assert len(await outbox_payloads(env, "claim.paid")) == 1


async def test_a_remittance_id_is_the_payers_own(env):
    first_case, _, first = await approved(env)
    second_case, _, second = await approved(env)

    one = await post_remittance(env, remittance(first_case.payer["code"], (first, "1344.00"), remittance_id="EFT-1"))
    two = await post_remittance(env, remittance(second_case.payer["code"], (second, "1344.00"), remittance_id="EFT-1"))

    assert (one.status_code, two.status_code) == (201, 201), two.text
    assert (await get_claim(env, second["id"]))["status"] == "paid"


async def test_every_item_that_cannot_be_posted_is_reported_with_its_reason(env):
    payer_case, _, paid = await approved(env)
    code = payer_case.payer["code"]
    ok(await post_remittance(env, remittance(code, (paid, "1344.00"))), 201)

    async def visit() -> dict:
        return await visit_invoice(env, payer_case.patient)

    draft = await make_claim(env, await visit())
    sent = await submitted_claim(env, await visit())
    refused = await rejected_claim(env, await visit())
    small = await approved_claim(env, await visit(), "100.00")
    twice = await approved_claim(env, await visit(), "100.00")
    _, _, foreign = await approved(env)  # another payer's claim

    body = remittance(
        code,
        (UNKNOWN, "10.00"),
        (foreign, "1344.00"),
        (draft, "1.00"),
        (sent, "2.00"),
        (refused, "3.00"),
        (paid, "1344.00"),
        (small, "100.01"),
        (twice, "60.00"),
        (twice, "40.00"),
    )
    result = ok(await post_remittance(env, body), 201)

    assert [(u["claim_number"], u["paid_amount"], u["reason"]) for u in result["unmatched"]] == [
        (UNKNOWN, "10.00", "CLAIM_NOT_FOUND"),
        (foreign["number"], "1344.00", "PAYER_MISMATCH"),
        (draft["number"], "1.00", "CLAIM_NOT_APPROVED"),
        (sent["number"], "2.00", "CLAIM_NOT_APPROVED"),
        (refused["number"], "3.00", "CLAIM_NOT_APPROVED"),
        (paid["number"], "1344.00", "ALREADY_PAID"),
        (small["number"], "100.01", "AMOUNT_EXCEEDS_APPROVED"),
        (twice["number"], "40.00", "DUPLICATE_ITEM"),
    ]
    assert [(p["claim_id"], p["paid_amount"]) for p in result["posted"]] == [(twice["id"], "60.00")]
    assert (result["paid_total"], result["posted_amount"], result["unmatched_amount"]) == (
        "2904.01",
        "60.00",
        "2844.01",
    )
    statuses = [(await get_claim(env, c["id"]))["status"] for c in (foreign, draft, sent, refused, small, twice)]
    assert statuses == ["approved", "draft", "submitted", "rejected", "partially_approved", "paid"]
    assert (await get_claim(env, paid["id"]))["paid_amount"] == "1344.00"
    assert len(await outbox_payloads(env, "claim.paid")) == 2


async def test_an_x12_835_posts_the_same_way(env):
    case = await insured(env)
    bills = [await visit_invoice(env, case.patient) for _ in range(2)]
    claims = [await approved_claim(env, bill) for bill in bills]
    text = x12_835(
        case.payer["code"],
        [(c["number"], c["total_charge"], c["approved_amount"]) for c in claims],
        remittance_id="EFT-835-42",
    )

    first = await post_remittance(env, text)
    again = await post_remittance(env, text)

    body = ok(first, 201)
    assert (body["format"], body["remittance_id"], body["payer_code"]) == ("x12_835", "EFT-835-42", case.payer["code"])
    assert [p["claim_id"] for p in body["posted"]] == [c["id"] for c in claims]
    assert all(p["adjustment_codes"] == ["CO-45"] for p in body["posted"])
    assert (again.status_code, again.headers.get("idempotent-replayed"), again.json()) == (200, "true", body)
    for bill, claim in zip(bills, claims, strict=True):
        assert (await invoice(env, bill["id"]))["insurance_paid"] == claim["approved_amount"]
        assert (await get_claim(env, claim["id"]))["status"] == "paid"
    assert len(await outbox_payloads(env, "claim.paid")) == 2


async def test_an_x12_835_may_come_as_application_edi_x12(env):
    case, _, claim = await approved(env)
    text = x12_835(case.payer["code"], [(claim["number"], "1680.00", "1344.00")])
    response = await env.client.post(
        "/api/v1/reconciliation/process",
        content=text.encode(),
        headers={**env.admin, "Content-Type": "application/edi-x12"},
    )
    assert ok(response, 201)["posted"][0]["claim_id"] == claim["id"]


@pytest.mark.parametrize(
    "text",
    [
        "hello, this is not X12",
        "ISA*00*",
        "ISA*00*          *00*          *ZZ*ACME01         *ZZ*123456789      *300120*1200*^*00501*000000077*0*P*:~"
        "GS*HP*A*B*20300120*1200*77*X*005010X221A1~ST*837*0001~SE*2*0001~GE*1*77~IEA*1*000000077~",
        "",
    ],
    ids=["prose", "truncated", "not-835", "empty"],
)
async def test_an_unreadable_835_is_refused(env, text):
    assert_problem(await post_remittance(env, text or " "), 422, "INVALID_X12")
    assert (await report(env, today(env), today(env))).json()["remittances"] == 0


async def test_an_835_without_claim_payments_is_refused(env):
    text = x12_835("ACME01", [("CLM-2030-000001", "10.00", "10.00")])
    no_claims = "".join(row for row in text.splitlines(keepends=True) if not row.startswith(("CLP", "NM1*QC", "CAS")))
    assert_problem(await post_remittance(env, no_claims), 422, "INVALID_X12")


@pytest.mark.parametrize(
    "body",
    [
        {"payer_code": "P", "items": []},
        {"remittance_id": "R", "items": [{"claim_number": "X", "paid_amount": "1.00", "adjustment_codes": []}]},
        {"remittance_id": "R", "payer_code": "P", "items": [{"claim_number": "X", "paid_amount": "-1.00"}]},
        {"remittance_id": "R", "payer_code": "P", "items": [{"claim_number": "X", "paid_amount": "1.001"}]},
    ],
    ids=["no-id", "no-payer", "negative", "sub-cent"],
)
async def test_a_malformed_json_remittance_is_refused(env, body):
    response = await post_remittance(env, body)
    assert response.status_code == 422, response.text


async def test_the_report_sums_remittances_by_day_and_payer(env):
    first_case, _, first = await approved(env)
    second_case, _, second = await approved(env)
    _, _, unpaid = await approved(env)
    day_one = today(env)
    one = remittance(first_case.payer["code"], (first, "1344.00"), (UNKNOWN, "50.00"), remittance_id="R-1")
    ok(await post_remittance(env, one), 201)
    await travel_by(env, days=2)
    day_three = today(env)
    ok(await post_remittance(env, remittance(second_case.payer["code"], (second, "1000.00"), remittance_id="R-2")), 201)
    officer = await claims_officer(env)

    first_day = ok(await report(env, day_one, day_one, officer))
    both = ok(await report(env, day_one, day_three, officer))
    later = ok(await report(env, day_three, "2031-12-31", officer))

    assert {k: first_day[k] for k in ("from", "to", "remittances", "posted_count", "posted_amount")} == {
        "from": day_one,
        "to": day_one,
        "remittances": 1,
        "posted_count": 1,
        "posted_amount": "1344.00",
    }
    assert (first_day["unmatched_count"], first_day["unmatched_amount"]) == (1, "50.00")
    assert first_day["unmatched"] == [
        {
            "remittance_id": "R-1",
            "payer_code": first_case.payer["code"],
            "claim_number": UNKNOWN,
            "paid_amount": "50.00",
            "reason": "CLAIM_NOT_FOUND",
        }
    ]
    assert first_day["by_payer"] == [
        {
            "payer_code": first_case.payer["code"],
            "remittances": 1,
            "posted_amount": "1344.00",
            "unmatched_amount": "50.00",
        }
    ]
    assert (both["remittances"], both["posted_count"], both["posted_amount"], both["unmatched_amount"]) == (
        2,
        2,
        "2344.00",
        "50.00",
    )
    assert sorted((p["payer_code"], p["posted_amount"]) for p in both["by_payer"]) == sorted(
        [(first_case.payer["code"], "1344.00"), (second_case.payer["code"], "1000.00")]
    )
    assert (later["remittances"], later["posted_amount"], later["unmatched"]) == (1, "1000.00", [])
    # Outstanding now: approved and not yet paid, whatever the range.
    for summary in (first_day, both, later):
        assert summary["outstanding"] == {"count": 1, "amount": unpaid["approved_amount"]}
        assert summary["currency"] == first["currency"]


async def test_an_empty_range_reports_zeros(env):
    summary = ok(await report(env, "2030-06-01", "2030-06-30"))
    assert (summary["remittances"], summary["posted_count"], summary["posted_amount"]) == (0, 0, "0.00")
    assert (summary["unmatched"], summary["by_payer"]) == ([], [])
    assert summary["outstanding"] == {"count": 0, "amount": "0.00"}


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2030-02-02", "to": "2030-02-01"},
        {"from": "2030-02-01"},
        {"to": "2030-02-01"},
        {"from": "2030-02-30", "to": "2030-03-01"},
    ],
    ids=["reversed", "no-to", "no-from", "bad-date"],
)
async def test_a_bad_report_range_is_refused(env, params):
    response = await env.client.get("/api/v1/reconciliation/report", params=params, headers=env.admin)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_paid_claims_are_no_longer_outstanding(env):
    case, _, claim = await approved(env)
    assert ok(await report(env, today(env), today(env)))["outstanding"] == {"count": 1, "amount": "1344.00"}
    ok(await post_remittance(env, remittance(case.payer["code"], (claim, "1344.00"))), 201)
    assert ok(await report(env, today(env), today(env)))["outstanding"] == {"count": 0, "amount": "0.00"}


async def test_a_payer_may_pay_nothing_of_an_approved_claim(env):
    case, bill, claim = await approved(env)

    result = ok(await post_remittance(env, remittance(case.payer["code"], (claim, "0.00"))), 201)

    assert [(p["claim_id"], p["paid_amount"]) for p in result["posted"]] == [(claim["id"], "0.00")]
    paid = await get_claim(env, claim["id"])
    assert (paid["status"], paid["paid_amount"]) == ("paid", "0.00")
    assert (await invoice(env, bill["id"]))["insurance_paid"] == "0.00"


async def test_the_report_counts_a_remittance_on_its_clinic_date(make_env):
    async with make_env(timezone="Asia/Kolkata") as env:
        case, _, claim = await approved(env)
        utc_day = env.clock.now().date()
        # 20:00 UTC is 01:30 the next day in Kolkata.
        await travel(env, rfc3339(datetime.combine(utc_day, time(20), tzinfo=UTC)))
        ok(await post_remittance(env, remittance(case.payer["code"], (claim, "1344.00"))), 201)

        clinic_day = (utc_day + timedelta(days=1)).isoformat()
        assert ok(await report(env, clinic_day, clinic_day))["remittances"] == 1
        assert ok(await report(env, utc_day.isoformat(), utc_day.isoformat()))["remittances"] == 0
