"""Accounts receivable: open patient and insurer balances, aged from the clinic-local issue date."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from caremesh.billing import contract as billing
from tests.builders.billing import completed_visit, completed_visit_invoice, invoice_of
from tests.builders.scheduling import assert_problem, travel

URL = "/api/v1/accounts-receivable"
ZERO = {"0-30": "0.00", "31-60": "0.00", "61-90": "0.00", "90+": "0.00"}
PAYER = "610014/ABC123"


def aged(bucket: str, amount: str) -> dict:
    return {"buckets": ZERO | {bucket: amount}, "total": amount}


async def report(env, as_of: date | None = None, headers=None) -> dict:
    params = {"as_of": as_of.isoformat()} if as_of else {}
    response = await env.client.get(URL, params=params, headers=headers or env.admin)
    assert response.status_code == 200, response.text
    return response.json()


def issue_day(invoice: dict) -> date:
    return datetime.fromisoformat(invoice["issued_at"]).date()


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(0, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"), (61, "61-90"), (90, "61-90"), (91, "90+")],
)
async def test_balances_age_into_buckets_at_their_boundaries(env, days, bucket):
    invoice = await completed_visit_invoice(env, experience_years=26)  # patient 168.00, insurer 1512.00
    body = await report(env, issue_day(invoice) + timedelta(days=days))

    assert body["totals"] == aged(bucket, "1680.00")
    assert body["by_payer"] == [
        {"payer": "patient", **aged(bucket, "168.00")},
        {"payer": PAYER, **aged(bucket, "1512.00")},
    ]
    assert body["by_patient"] == [{"patient_id": invoice["patient_id"], **aged(bucket, "1680.00")}]


async def test_invoices_issued_after_as_of_and_void_ones_are_left_out(env):
    invoice = await completed_visit_invoice(env, experience_years=26)
    day = issue_day(invoice)
    assert (await report(env, day - timedelta(days=1)))["totals"] == {"buckets": ZERO, "total": "0.00"}

    other = await completed_visit_invoice(env, experience_years=26)
    assert (await env.client.post(f"/api/v1/invoices/{other['id']}/void", headers=env.admin)).status_code == 200
    body = await report(env, day + timedelta(days=40))
    assert [row["patient_id"] for row in body["by_patient"]] == [invoice["patient_id"]]


async def test_payments_lower_the_patients_open_balance_and_settled_balances_disappear(env):
    partly = await completed_visit_invoice(env, experience_years=26)
    settled = await completed_visit_invoice(env, experience_years=26, insured=False)  # patient owes 1680.00
    for invoice, amount in ((partly, Decimal("100.00")), (settled, Decimal("1680.00"))):
        async with env.uow() as uow:
            await billing.reserve_payment(uow, uuid.UUID(invoice["id"]), amount)
            await billing.settle_payment(uow, uuid.UUID(invoice["id"]), amount, succeeded=True)

    body = await report(env)
    assert body["by_payer"] == [
        {"payer": "patient", **aged("0-30", "68.00")},
        {"payer": PAYER, **aged("0-30", "1512.00")},
    ]
    assert body["by_patient"] == [{"patient_id": partly["patient_id"], **aged("0-30", "1580.00")}]
    assert body["totals"]["total"] == "1580.00"


async def test_rows_are_summed_per_patient_and_per_payer_and_ordered(env):
    big = await completed_visit_invoice(env, experience_years=31, insured=False)  # 2240.00, all the patient's
    first = await completed_visit_invoice(env, experience_years=26)
    # One prior visit: API.md's example, 1663.20 of which the patient owes 166.32.
    second = await completed_visit_invoice(env, experience_years=26, patient={"id": first["patient_id"]})
    as_of = issue_day(second)

    body = await report(env, as_of)
    assert [(r["patient_id"], r["total"]) for r in body["by_patient"]] == [
        (first["patient_id"], "3343.20"),
        (big["patient_id"], "2240.00"),
    ]
    assert [(r["payer"], r["total"]) for r in body["by_payer"]] == [("patient", "2574.32"), (PAYER, "3008.88")]
    assert (body["totals"]["total"], body["as_of"], body["currency"]) == ("5583.20", as_of.isoformat(), "INR")


async def test_as_of_defaults_to_today_at_the_clinic(env):
    invoice = await completed_visit_invoice(env)
    body = await report(env)
    assert body["as_of"] == issue_day(invoice).isoformat()
    assert await env.count("audit_events", "action = 'accounts_receivable.read'") == 1


async def test_the_issue_date_is_the_clinics(make_env):
    async with make_env(timezone="Asia/Kolkata") as env:
        visit = await completed_visit(env)  # ends 10:30 UTC, 16:00 in Kolkata
        ended = datetime.fromisoformat(visit["ended_at"])
        await travel(env, (ended.replace(hour=19, minute=0)).isoformat())  # 00:30 the next day in Kolkata
        await env.drain()
        await invoice_of(env, visit["id"])
        utc_day = ended.date()
        assert (await report(env, utc_day))["totals"]["total"] == "0.00"
        body = await report(env, utc_day + timedelta(days=1))
        assert body["totals"]["buckets"]["0-30"] != "0.00"


async def test_a_malformed_as_of_is_422(env):
    response = await env.client.get(URL, params={"as_of": "2030-02-30"}, headers=env.admin)
    assert_problem(response, 422, "VALIDATION_ERROR")


async def test_as_of_at_the_end_of_the_calendar_is_refused_not_a_crash(env):
    refused = await env.client.get(URL, params={"as_of": "9999-12-31"}, headers=env.admin)
    assert_problem(refused, 422, "VALIDATION_ERROR")
    assert (await env.client.get(URL, params={"as_of": "9999-12-30"}, headers=env.admin)).status_code == 200
