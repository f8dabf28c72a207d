"""Premium billing (issue 16): a run bills each coverage in force on the period's first day once, at the rate for
the member's age that day, and announces each premium (premium.billed) for billing to invoice; runs again, or at
the same time, bill nothing twice; billing's invoice.issued links the invoice to its premium billing."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from caremesh.insurance import contract as insurance
from tests.builders.deliveries import hand, redeliver, relay, waiting
from tests.builders.insurance import (
    PREMIUM_BILLINGS,
    PREMIUM_RUN,
    add_rate,
    invoice_event,
    make_agent,
    make_coverage,
    make_scheme,
    premium_billings,
    publish_as_billing,
    run_premiums,
)
from tests.builders.patients import make_patient
from tests.harness import assert_problem, every_page, outbox_payloads


async def _priced_scheme(env, **overrides):
    scheme = await make_scheme(env, **overrides)
    await add_rate(env, scheme, 0, 17, "100.00")
    await add_rate(env, scheme, 18, 59, "300.00")
    await add_rate(env, scheme, 60, None, "500.00")
    return scheme


async def _member(env, scheme, date_of_birth: str, **coverage):
    patient = await make_patient(env, date_of_birth=date_of_birth)
    return await make_coverage(env, patient=patient, scheme=scheme, **coverage)


async def test_a_run_bills_each_coverage_in_force_on_the_first_day_at_the_age_that_day(env):
    scheme = await _priced_scheme(env, name="Gold")
    agent = await make_agent(env, percent="7.50")
    adult = await _member(env, scheme, "1985-04-12", agent_id=agent["id"])
    # 17 on 2030-02-01, 18 the day after: the child's band.
    child = await _member(env, scheme, "2012-02-02")
    senior = await _member(env, scheme, "1960-01-01", valid_to="2030-02-01")
    await _member(env, scheme, "1985-04-12", status="inactive")
    await _member(env, scheme, "1985-04-12", valid_from="2030-02-02")
    await _member(env, scheme, "1985-04-12", valid_to="2030-01-31")
    suspended = await _priced_scheme(env, status="suspended")
    await _member(env, suspended, "1985-04-12")
    unpriced = await make_scheme(env)
    no_rate = await _member(env, unpriced, "1985-04-12")

    run = await run_premiums(env, "2030-02")
    assert (run["period"], run["issued"], run["skipped"]) == ("2030-02", 3, 1)
    assert run["skipped_reasons"] == [{"coverage_id": no_rate["id"], "reason": "NO_PREMIUM_RATE"}]

    billed = {b["coverage_id"]: b for b in await premium_billings(env, period="2030-02")}
    assert {c: (b["age"], b["amount"], b["currency"]) for c, b in billed.items()} == {
        adult["id"]: (44, "300.00", "INR"),
        child["id"]: (17, "100.00", "INR"),
        senior["id"]: (70, "500.00", "INR"),
    }
    assert (billed[adult["id"]]["agent_id"], billed[adult["id"]]["commission_percent"]) == (agent["id"], "7.50")
    assert (billed[child["id"]]["agent_id"], billed[child["id"]]["commission_percent"]) == (None, None)
    assert all(b["invoice_id"] is None for b in billed.values())

    events = [insurance.PremiumBilled.from_payload(p) for p in await outbox_payloads(env, insurance.PREMIUM_BILLED)]
    assert {e.premium_billing_id for e in events} == {uuid.UUID(b["id"]) for b in billed.values()}
    adult_event = next(e for e in events if e.coverage_id == uuid.UUID(adult["id"]))
    assert (adult_event.amount, adult_event.currency, adult_event.period) == (Decimal("300.00"), "INR", "2030-02")
    assert adult_event.description == f"Premium 2030-02, Gold (member {adult['member_id']})"
    assert (adult_event.agent_id, adult_event.patient_id) == (uuid.UUID(agent["id"]), uuid.UUID(adult["patient_id"]))


async def test_running_again_bills_nothing_twice_and_a_new_coverage_once(env):
    scheme = await _priced_scheme(env)
    first = await _member(env, scheme, "1985-04-12")
    assert (await run_premiums(env, "2030-03"))["issued"] == 1
    second = await _member(env, scheme, "1990-01-01")

    again = await run_premiums(env, "2030-03")
    assert (again["issued"], again["skipped"]) == (1, 1)
    assert again["skipped_reasons"] == [{"coverage_id": first["id"], "reason": "ALREADY_BILLED"}]
    assert (await run_premiums(env, "2030-03"))["issued"] == 0
    assert len(await outbox_payloads(env, insurance.PREMIUM_BILLED)) == 2
    assert [b["coverage_id"] for b in await premium_billings(env, coverage_id=second["id"])] == [second["id"]]
    # Another month is another premium.
    assert (await run_premiums(env, "2030-04"))["issued"] == 2


async def test_runs_at_the_same_time_bill_each_coverage_once(env):
    await env.warm_pool()
    scheme = await _priced_scheme(env)
    coverages = [await _member(env, scheme, f"19{70 + n}-05-05") for n in range(5)]
    runs = await asyncio.gather(
        *(env.client.post(PREMIUM_RUN, json={"period": "2030-05"}, headers=env.admin) for _ in range(4))
    )
    assert [r.status_code for r in runs] == [200] * 4, [r.text for r in runs]
    assert sum(r.json()["issued"] for r in runs) == len(coverages)
    assert all(r.json()["issued"] + r.json()["skipped"] == len(coverages) for r in runs)
    assert len(await premium_billings(env, period="2030-05")) == len(coverages)
    assert len(await outbox_payloads(env, insurance.PREMIUM_BILLED)) == len(coverages)


async def test_a_member_whose_patient_record_is_gone_is_skipped(env):
    scheme = await _priced_scheme(env)
    coverage = await _member(env, scheme, "1985-04-12")
    deleted = await env.client.delete(
        f"/api/v1/patients/{coverage['patient_id']}", headers={**env.admin, "If-Match": '"1"'}
    )
    assert deleted.status_code == 204, deleted.text
    run = await run_premiums(env, "2030-02")
    assert run["skipped_reasons"] == [{"coverage_id": coverage["id"], "reason": "PATIENT_NOT_FOUND"}]


async def test_billings_invoice_is_linked_once_whatever_the_deliveries(env):
    scheme = await _priced_scheme(env)
    await _member(env, scheme, "1985-04-12")
    await run_premiums(env, "2030-02")
    [billing] = await premium_billings(env, period="2030-02")
    invoice_id = uuid.uuid4()
    await publish_as_billing(env, invoice_event("issued", billing, invoice_id, "300.00"))
    await relay(env)
    [delivery] = await waiting(env, "insurance", "invoice.issued")
    await hand(env, delivery)
    await redeliver(env, delivery)
    [linked] = await premium_billings(env, invoice_id=str(invoice_id))
    assert (linked["id"], linked["invoice_id"]) == (billing["id"], str(invoice_id))
    # Another invoice naming the same premium is logged, not taken: the first stays.
    await publish_as_billing(env, invoice_event("issued", billing, uuid.uuid4(), "300.00"))
    await env.drain()
    assert (await premium_billings(env, period="2030-02"))[0]["invoice_id"] == str(invoice_id)


async def test_an_invoice_that_is_no_premium_is_ignored(env):
    scheme = await _priced_scheme(env)
    await _member(env, scheme, "1985-04-12")
    await run_premiums(env, "2030-02")
    await env.drain()
    [billing] = await premium_billings(env)
    [premium_invoice] = await every_page(env, "/api/v1/invoices", premium_billing_id=billing["id"])
    event = invoice_event("issued", billing, uuid.uuid4(), "300.00")
    await publish_as_billing(env, type(event)(**{**event.__dict__, "premium_billing_id": None, "kind": "manual"}))
    await env.drain()
    assert (await premium_billings(env))[0]["invoice_id"] == premium_invoice["id"]  # billing's own, not the manual


async def test_a_bad_period_is_refused_and_bills_nothing(env):
    scheme = await _priced_scheme(env)
    await _member(env, scheme, "1985-04-12")
    for period in ("2030-13", "2030-2", "30-02", "2030-00", "0000-01", ""):
        response = await env.client.post(PREMIUM_RUN, json={"period": period}, headers=env.admin)
        assert_problem(response, 422, "VALIDATION_ERROR")
    response = await env.client.get(PREMIUM_BILLINGS, params={"period": "2030-2"}, headers=env.admin)
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert await premium_billings(env) == []


async def test_billing_clerks_run_premiums_and_others_may_not(env):
    scheme = await _priced_scheme(env)
    await _member(env, scheme, "1985-04-12")
    for role in ("receptionist", "claims_officer", "doctor"):
        response = await env.client.post(PREMIUM_RUN, json={"period": "2030-02"}, headers=await env.user([role]))
        assert_problem(response, 403, "FORBIDDEN")
    clerk = await env.user(["billing_clerk"])
    assert (await run_premiums(env, "2030-02", headers=clerk))["issued"] == 1
    officer = await env.user(["claims_officer"])
    assert len((await env.client.get(PREMIUM_BILLINGS, headers=officer)).json()["items"]) == 1
    [billing] = await premium_billings(env)
    patient = await env.user(["patient"], patient_id=billing["patient_id"])
    assert_problem(await env.client.get(PREMIUM_BILLINGS, headers=patient), 403, "FORBIDDEN")


async def test_a_run_replayed_with_its_idempotency_key_answers_the_same(env):
    scheme = await _priced_scheme(env)
    await _member(env, scheme, "1985-04-12")
    headers = {**env.admin, "Idempotency-Key": "run-2030-02"}
    first = await env.client.post(PREMIUM_RUN, json={"period": "2030-02"}, headers=headers)
    replay = await env.client.post(PREMIUM_RUN, json={"period": "2030-02"}, headers=headers)
    assert (first.status_code, first.json()["issued"]) == (200, 1)
    assert (replay.status_code, replay.json(), replay.headers.get("Idempotent-Replayed")) == (200, first.json(), "true")
    other = await env.client.post(PREMIUM_RUN, json={"period": "2030-03"}, headers=headers)
    assert_problem(other, 422, "IDEMPOTENCY_KEY_REUSED")
    assert len(await outbox_payloads(env, insurance.PREMIUM_BILLED)) == 1
