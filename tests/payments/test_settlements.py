"""The daily settlement: a clinic day's payments by method, refunds, insurers' remittances and the net; closing freezes
the day once (also under concurrency), and money completing on a closed day counts on the next open one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from caremesh.payments import settlements
from tests.builders.claims import approved_claim, claims_officer, insured_invoice, post_remittance, remittance
from tests.builders.claims import travel_by as travel_by_claims
from tests.builders.payments import (
    PAYMENTS,
    REFUNDS,
    SETTLEMENTS,
    assert_problem,
    by_method,
    close_day,
    every_payment_of,
    make_payment,
    pay,
    refund,
    settlement,
    unpaid_invoice,
)
from tests.harness import every_page

ZERO_METHODS = {"cash": (0, "0.00"), "card": (0, "0.00"), "upi": (0, "0.00"), "bank_transfer": (0, "0.00")}


@pytest.fixture
async def bill(env):
    return await unpaid_invoice(env)


def today(env) -> str:
    return env.clock.now().date().isoformat()  # the tests' clinic timezone is UTC


def next_day(day: str, days: int = 1) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


async def admin_id(env) -> str:
    return (await env.client.get("/api/v1/auth/me", headers=env.admin)).json()["id"]


async def test_a_day_sums_payments_by_method_refunds_remittances_and_the_net(env, bill):
    case, insured = await insured_invoice(env)  # (the insured visit and its claim take the clock days ahead)
    claim = await approved_claim(env, insured)
    posted = await post_remittance(env, remittance(case.payer["code"], (claim, "1344.00")), await claims_officer(env))
    assert posted.status_code == 201, posted.text
    cash = await make_payment(env, bill["id"], "100.00", "cash")
    await make_payment(env, bill["id"], "200.00", "card")
    await make_payment(env, bill["id"], "50.25", "upi")
    await make_payment(env, bill["id"], "19.75", "cash")
    declined = await pay(env, bill["id"], "10.00", "card", card_token="tok_declined")
    assert declined.status_code == 402
    assert (await refund(env, cash["id"], "30.00")).status_code == 201

    figures = await settlement(env, today(env))

    assert figures == {
        "date": today(env),
        "currency": "INR",
        "status": "open",
        "payments": {
            "count": 4,
            "amount": "370.00",
            "by_method": [
                {"method": "cash", "count": 2, "amount": "119.75"},
                {"method": "card", "count": 1, "amount": "200.00"},
                {"method": "upi", "count": 1, "amount": "50.25"},
                {"method": "bank_transfer", "count": 0, "amount": "0.00"},
            ],
        },
        "refunds": {"count": 1, "amount": "30.00", "by_method": figures["refunds"]["by_method"]},
        "remittances": {
            "count": 1,
            "amount": "1344.00",
            "by_payer": [{"payer_code": case.payer["code"], "count": 1, "amount": "1344.00"}],
        },
        "net": "1684.00",  # 370.00 - 30.00 + 1344.00
        "closed_at": None,
        "closed_by": None,
    }
    assert by_method(figures["refunds"]) == {**ZERO_METHODS, "cash": (1, "30.00")}


async def test_an_empty_day_is_open_with_zeros_and_reading_writes_nothing(env):
    figures = await settlement(env, "2029-12-31")
    assert (figures["status"], figures["net"], figures["payments"]["amount"]) == ("open", "0.00", "0.00")
    assert by_method(figures["payments"]) == ZERO_METHODS
    assert figures["remittances"] == {"count": 0, "amount": "0.00", "by_payer": []}
    assert await env.count("settlements") == 0


async def test_closing_freezes_the_day_and_later_money_counts_on_the_next_day(env, bill):
    first = await make_payment(env, bill["id"], "100.00", "cash")
    day = today(env)

    response = await close_day(env, day)

    assert response.status_code == 200, response.text
    closed = response.json()
    assert (closed["status"], closed["net"], closed["closed_by"]) == ("closed", "100.00", await admin_id(env))
    assert closed["closed_at"].endswith("Z")
    assert await env.count("audit_events", "action = 'settlement.close' AND entity_id = :day", day=day) == 1

    # The same clinic day, after the close: a payment and a refund of the day's payment count tomorrow.
    later = await make_payment(env, bill["id"], "40.00", "card")
    back = (await refund(env, first["id"], "25.00")).json()
    assert later["settlement_date"] == back["settlement_date"] == next_day(day)

    assert await settlement(env, day) == closed
    tomorrow = await settlement(env, next_day(day))
    assert (tomorrow["status"], tomorrow["payments"]["amount"], tomorrow["refunds"]["amount"]) == (
        "open",
        "40.00",
        "25.00",
    )
    assert tomorrow["net"] == "15.00"


async def test_money_skips_every_closed_day(env, bill):
    payment = await make_payment(env, bill["id"], "100.00", "cash")
    day = today(env)
    assert (await close_day(env, day)).status_code == 200
    await travel_by_claims(env, days=1)
    assert (await close_day(env, next_day(day))).status_code == 200  # tomorrow, closed while still empty
    await travel_by_claims(env, days=-1)  # back on the first day, as a desk running late would be

    back = (await refund(env, payment["id"], "10.00")).json()

    assert back["settlement_date"] == next_day(day, 2)
    assert (await settlement(env, next_day(day)))["refunds"]["count"] == 0


async def test_closing_again_answers_the_same_frozen_figures(env, bill):
    await make_payment(env, bill["id"], "100.00", "cash")
    day = today(env)
    first = await close_day(env, day)
    clerk = await env.user(["billing_clerk"])
    again = await close_day(env, day, clerk)

    assert (again.status_code, again.json()) == (200, first.json())
    assert await env.count("audit_events", "action = 'settlement.close'") == 1


async def test_concurrent_closes_close_once(env, bill):
    await make_payment(env, bill["id"], "100.00", "cash")
    await env.warm_pool()
    day = today(env)

    responses = await asyncio.gather(*(close_day(env, day) for _ in range(8)))

    assert {r.status_code for r in responses} == {200}
    assert len({r.text for r in responses}) == 1
    assert await env.count("audit_events", "action = 'settlement.close'") == 1
    assert await env.count("settlements", "status = 'closed'") == 1


async def test_a_close_racing_refunds_counts_each_refund_on_exactly_one_day(env, bill):
    paid = await make_payment(env, bill["id"], "1680.00", "cash")
    await env.warm_pool()
    day = today(env)

    results = await asyncio.gather(
        *(refund(env, paid["id"], "10.00") for _ in range(6)),
        close_day(env, day),
        *(refund(env, paid["id"], "10.00") for _ in range(6)),
    )

    refunds, closed = [r.json() for r in results if r.request.url.path.startswith(PAYMENTS)], results[6]
    assert [r.status_code for r in results] == [201] * 6 + [200] + [201] * 6
    frozen = closed.json()
    on_day = [r for r in refunds if r["settlement_date"] == day]
    after = [r for r in refunds if r["settlement_date"] == next_day(day)]
    assert len(on_day) + len(after) == 12
    assert frozen["refunds"]["count"] == len(on_day)
    assert Decimal(frozen["refunds"]["amount"]) == sum(Decimal(r["amount"]) for r in on_day)
    assert (await settlement(env, day)) == frozen
    assert (await settlement(env, next_day(day)))["refunds"]["count"] == len(after)
    listed = await every_page(env, REFUNDS, payment_id=paid["id"])
    assert sorted((r["id"], r["settlement_date"]) for r in listed) == sorted(
        (r["id"], r["settlement_date"]) for r in refunds
    )


async def test_a_day_in_the_future_cannot_be_closed(env):
    response = await close_day(env, next_day(today(env)))
    assert_problem(response, 409, "SETTLEMENT_DAY_IN_FUTURE")
    assert await env.count("settlements") == 0
    assert (await close_day(env, today(env))).status_code == 200  # today may be closed at the end of its shift


async def test_the_clinic_day_is_the_clinic_timezones(make_env):
    async with make_env(timezone="Asia/Kolkata") as env:
        bill = await unpaid_invoice(env)
        await travel_by_claims(env, hours=23 - env.clock.now().hour)  # 23:xx UTC: the next morning in Kolkata
        payment = await make_payment(env, bill["id"], "10.00", "cash")
        utc_day = env.clock.now().date().isoformat()
        assert payment["settlement_date"] == next_day(utc_day)
        assert (await settlement(env, next_day(utc_day)))["payments"]["amount"] == "10.00"
        assert (await settlement(env, utc_day))["payments"]["amount"] == "0.00"


async def test_who_reads_and_closes(env, bill):
    await make_payment(env, bill["id"], "100.00", "cash")
    day = today(env)
    for role in ("receptionist", "doctor", "claims_officer"):
        headers = await env.user([role])
        assert_problem(await env.client.get(f"{SETTLEMENTS}/{day}", headers=headers), 403, "FORBIDDEN")
        assert_problem(await close_day(env, day, headers), 403, "FORBIDDEN")
    patient = await env.user(["patient"], patient_id=bill["patient_id"])
    assert_problem(await close_day(env, day, patient), 403, "FORBIDDEN")
    clerk = await env.user(["billing_clerk"])
    assert (await settlement(env, day, clerk))["status"] == "open"
    assert (await close_day(env, day, clerk)).status_code == 200
    assert await env.count("settlements", "status = 'open'") == 0


async def test_a_malformed_day_is_422(env):
    assert_problem(await env.client.get(f"{SETTLEMENTS}/2030-02-30", headers=env.admin), 422, "VALIDATION_ERROR")
    assert_problem(await close_day(env, "yesterday"), 422, "VALIDATION_ERROR")


async def test_every_completed_payment_has_a_settlement_date(env, bill):
    await make_payment(env, bill["id"], "10.00", "cash")
    await pay(env, bill["id"], "10.00", "card", card_token="tok_declined")
    payments = await every_payment_of(env, bill["id"])
    assert {(p["status"], p["settlement_date"]) for p in payments} == {
        ("completed", today(env)),
        ("failed", None),
    }


# --- the lock between closing a day and money taking it (service level, to hold a transaction open)


async def take_day(env) -> date:
    async with env.uow() as uow:
        return await settlements.counting_day(uow, env.clock.now())


async def test_a_close_waits_for_money_that_is_taking_the_day_and_counts_it(env, bill):
    day = env.clock.now().date()
    async with env.uow() as uow:
        assert await settlements.counting_day(uow, env.clock.now()) == day  # the day's row, held in share mode
        closing = asyncio.create_task(close_day(env, day.isoformat()))
        await asyncio.sleep(0.3)
        assert not closing.done()
    response = await closing
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "closed"


async def test_money_waits_for_a_close_in_progress_and_moves_to_the_next_day(env):
    day = env.clock.now().date()
    closer = uuid.UUID((await env.client.get("/api/v1/auth/me", headers=env.admin)).json()["id"])
    async with env.uow() as uow:
        await settlements.close_settlement(uow, day, closer)
        taking = asyncio.create_task(take_day(env))
        await asyncio.sleep(0.3)
        assert not taking.done()
    assert await taking == day + timedelta(days=1)
