"""POST /claims/{id}/process: auto-adjudication against the scheme, line by line, with X12 adjustment codes; and the
insurance accumulators moved exactly once by what a claim was approved for."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.builders.billing import INSURANCE
from tests.builders.claims import (
    accumulators,
    act,
    adjustments,
    assert_adjustments_balance,
    bin_payer,
    cardiologist,
    d,
    general_practitioner,
    get_claim,
    history,
    insured,
    insured_invoice,
    ok,
    processed_claim,
    s,
    submitted_claim,
    visit_invoice,
)
from tests.builders.insurance import preauthorize
from tests.builders.orders import invoices_of, place_order, prescription, stock_medication
from tests.builders.patients import make_patient
from tests.harness import assert_problem, outbox_payloads


@pytest.mark.parametrize(
    ("percent", "claimed", "coinsurance"),
    [("80.00", "1344.00", "336.00"), ("50.00", "840.00", "840.00"), ("100.00", "1680.00", None)],
)
async def test_the_coverage_percent_is_approved_in_full_and_the_rest_is_coinsurance(env, percent, claimed, coinsurance):
    _, bill = await insured_invoice(env, benefit={"coverage_percent": percent})

    claim = await processed_claim(env, bill)

    assert (claim["status"], claim["claimed_amount"], claim["approved_amount"]) == ("approved", claimed, claimed)
    assert claim["rejection_reason_code"] is None
    [line] = claim["lines"]
    assert line["approved_amount"] == claimed
    assert adjustments(line) == ({"PR-2": coinsurance} if coinsurance else {})
    assert line["reason_codes"] == (["2"] if coinsurance else [])
    assert_adjustments_balance(claim)


async def test_a_deductible_is_the_patients_before_the_coverage_percent(env):
    case, bill = await insured_invoice(env, benefit={"deductible": "500.00"})
    assert await accumulators(env, case, bill["service_date"], "1000.00") == ("500.00", None)

    claim = await processed_claim(env, bill)

    # (1680.00 - 500.00) x 80 % = 944.00 of the 1344.00 asked.
    assert (claim["status"], claim["approved_amount"]) == ("partially_approved", "944.00")
    [line] = claim["lines"]
    assert adjustments(line) == {"PR-1": "500.00", "PR-2": "236.00"}
    assert line["reason_codes"] == ["1", "2"]
    assert_adjustments_balance(claim)
    assert await accumulators(env, case, bill["service_date"], "1000.00") == ("0.00", None)


async def test_a_deductible_partly_met_by_an_earlier_claim_takes_only_what_is_left(env):
    case = await insured(env, benefit={"deductible": "500.00"})
    # The first visit, 224.00 (a general practitioner's hour), falls wholly within the deductible: nothing approved.
    small = await visit_invoice(env, case.patient, await general_practitioner(env))
    first = await processed_claim(env, small)
    assert (first["status"], first["approved_amount"], first["rejection_reason_code"]) == ("rejected", "0.00", "1")
    assert adjustments(first["lines"][0]) == {"PR-1": "224.00"}
    assert await accumulators(env, case, small["service_date"], "1000.00") == ("276.00", None)

    bill = await visit_invoice(env, case.patient, await cardiologist(env))
    second = await processed_claim(env, bill)

    total = d(bill["total"])  # 1663.20 with the loyalty discount of the second visit
    payer = ((total - Decimal("276.00")) * Decimal("0.8")).quantize(Decimal("0.01"))
    assert (second["status"], second["approved_amount"]) == ("partially_approved", s(payer))
    assert adjustments(second["lines"][0]) == {"PR-1": "276.00", "PR-2": s(total - payer - Decimal("276.00"))}
    assert_adjustments_balance(second)
    assert await accumulators(env, case, bill["service_date"], "1000.00") == ("0.00", None)


async def test_a_copay_is_the_patients_before_the_coverage_percent(env):
    _, bill = await insured_invoice(env, benefit={"copay_amount": "100.00"})

    claim = await processed_claim(env, bill)

    # (1680.00 - 100.00) x 80 % = 1264.00
    assert (claim["status"], claim["approved_amount"]) == ("partially_approved", "1264.00")
    assert adjustments(claim["lines"][0]) == {"PR-2": "316.00", "PR-3": "100.00"}
    assert_adjustments_balance(claim)


async def test_an_exhausted_annual_limit_rejects_the_next_claim(env):
    case, first_bill = await insured_invoice(env, benefit={"annual_limit": "1344.00"})
    assert (await processed_claim(env, first_bill))["status"] == "approved"
    assert await accumulators(env, case, first_bill["service_date"]) == ("0.00", "0.00")

    bill = await visit_invoice(env, case.patient)
    claim = await processed_claim(env, bill)

    assert (claim["status"], claim["approved_amount"]) == ("rejected", "0.00")
    assert claim["rejection_reason_code"] == "119"
    assert claim["rejection_reason"]
    assert adjustments(claim["lines"][0]) == {"PR-119": bill["total"]}
    assert_adjustments_balance(claim)


async def test_an_annual_limit_partly_left_pays_what_is_left(env):
    case, first_bill = await insured_invoice(env, benefit={"annual_limit": "2000.00"})
    assert (await processed_claim(env, first_bill))["approved_amount"] == "1344.00"
    assert await accumulators(env, case, first_bill["service_date"]) == ("0.00", "656.00")

    bill = await visit_invoice(env, case.patient)
    claim = await processed_claim(env, bill)

    total, claimed = d(bill["total"]), d(bill["insurance_amount"])
    assert (claim["status"], claim["approved_amount"]) == ("partially_approved", "656.00")
    assert adjustments(claim["lines"][0]) == {
        "PR-2": s(total - claimed),
        "PR-119": s(claimed - Decimal("656.00")),
    }
    assert_adjustments_balance(claim)
    assert await accumulators(env, case, bill["service_date"]) == ("0.00", "0.00")


async def _suspend_scheme(env, case):
    ok(await env.client.post(f"/api/v1/schemes/{case.scheme['id']}/suspend", headers=env.admin))


async def _deactivate_coverage(env, case):
    ok(await env.client.post(f"/api/v1/coverages/{case.coverage['id']}/deactivate", headers=env.admin))


@pytest.mark.parametrize(
    ("change", "group_reason"),
    [(_suspend_scheme, "PR-177"), (_deactivate_coverage, "PR-27")],
    ids=["scheme-suspended", "coverage-inactive"],
)
async def test_coverage_lost_after_submission_rejects_the_claim(env, change, group_reason):
    case, bill = await insured_invoice(env)
    claim = await submitted_claim(env, bill)
    await change(env, case)

    processed = ok(await act(env, claim, "process"))

    assert (processed["status"], processed["approved_amount"]) == ("rejected", "0.00")
    assert processed["rejection_reason_code"] == group_reason.split("-")[1]
    assert adjustments(processed["lines"][0]) == {group_reason: "1680.00"}
    assert processed["lines"][0]["reason_codes"] == [group_reason.split("-")[1]]
    assert_adjustments_balance(processed)


async def test_a_claim_of_a_patient_without_coverage_is_rejected_as_not_our_insured(env):
    await bin_payer(env)
    bill = await visit_invoice(env, await make_patient(env, insurance=INSURANCE))

    claim = await processed_claim(env, bill)

    assert (claim["status"], claim["approved_amount"], claim["rejection_reason_code"]) == ("rejected", "0.00", "31")
    assert adjustments(claim["lines"][0]) == {"CO-31": "1680.00"}


async def test_a_benefit_that_requires_preauthorisation_is_rejected_without_one(env):
    _case, bill = await insured_invoice(env, benefit={"requires_preauth": True})

    claim = await processed_claim(env, bill)

    assert (claim["status"], claim["rejection_reason_code"]) == ("rejected", "197")
    assert adjustments(claim["lines"][0]) == {"CO-197": "1680.00"}


async def test_a_benefit_that_requires_preauthorisation_is_approved_with_one(env):
    case = await insured(env, benefit={"requires_preauth": True})
    await preauthorize(env, case.coverage)
    bill = await visit_invoice(env, case.patient)

    claim = await processed_claim(env, bill)

    assert (claim["status"], claim["approved_amount"]) == ("approved", "1344.00")


async def test_lines_are_adjudicated_in_order_each_counting_against_the_next(env):
    case = await insured(env, benefit={"category": "pharmacy", "coverage_percent": "50.00", "deductible": "80.00"})
    practitioner = await general_practitioner(env)
    first, second = await stock_medication(env, unit_price="50.00"), await stock_medication(env, unit_price="100.00")
    placed = await place_order(env, prescription(case.patient, practitioner, (first, 1), (second, 1)))
    await env.drain()
    [bill] = await invoices_of(env, placed["id"])
    assert (bill["total"], bill["insurance_amount"]) == ("168.00", "84.00")

    claim = await processed_claim(env, bill)

    # Line 1: 56.00, all deductible. Line 2: 112.00, the deductible's last 24.00, then half of 88.00 = 44.00.
    one, two = claim["lines"]
    assert (one["charge_amount"], one["approved_amount"], adjustments(one)) == ("56.00", "0.00", {"PR-1": "56.00"})
    assert (two["charge_amount"], two["approved_amount"]) == ("112.00", "44.00")
    assert adjustments(two) == {"PR-1": "24.00", "PR-2": "44.00"}
    assert (claim["status"], claim["approved_amount"]) == ("partially_approved", "44.00")
    assert_adjustments_balance(claim)


async def test_processing_publishes_claim_adjudicated_and_records_the_transition(env):
    _, bill = await insured_invoice(env)
    claim = await processed_claim(env, bill)

    [event] = await outbox_payloads(env, "claim.adjudicated")
    assert (event["claim_id"], event["status"], event["manual"]) == (claim["id"], "approved", False)
    assert (d(event["approved_amount"]), d(event["claimed_amount"])) == (Decimal("1344.00"), Decimal("1344.00"))
    last = (await history(env, claim["id"]))[-1]
    assert (last["from_status"], last["to_status"], last["action"], last["approved_amount"]) == (
        "submitted",
        "approved",
        "adjudicated",
        "1344.00",
    )


async def test_the_accumulators_move_once_and_a_second_process_is_refused(env):
    case, bill = await insured_invoice(env, benefit={"deductible": "500.00", "annual_limit": "3000.00"})
    claim = await submitted_claim(env, bill)
    assert await accumulators(env, case, bill["service_date"], "1000.00") == ("500.00", "3000.00")

    processed = ok(await act(env, claim, "process"))
    assert processed["approved_amount"] == "944.00"
    after = await accumulators(env, case, bill["service_date"], "1000.00")
    assert after == ("0.00", "2056.00")

    assert_problem(await act(env, claim, "process"), 409, "INVALID_STATUS_TRANSITION")
    assert_problem(await act(env, claim, "approve", {"approved_amount": "1344.00"}), 409, "INVALID_STATUS_TRANSITION")
    assert await accumulators(env, case, bill["service_date"], "1000.00") == after
    assert await get_claim(env, claim["id"]) == processed
    assert len(await outbox_payloads(env, "claim.adjudicated")) == 1


async def test_a_manual_approval_moves_the_annual_limit_by_the_approved_amount(env):
    case, bill = await insured_invoice(env, benefit={"annual_limit": "2000.00"})
    claim = await submitted_claim(env, bill)

    ok(await act(env, claim, "approve", {"approved_amount": "1000.00"}))

    assert await accumulators(env, case, bill["service_date"]) == ("0.00", "1000.00")


async def test_a_manual_approval_beyond_the_annual_limit_is_refused(env):
    case, bill = await insured_invoice(env, benefit={"annual_limit": "1000.00"})
    claim = await submitted_claim(env, bill)

    assert_problem(await act(env, claim, "approve", {"approved_amount": "1000.01"}), 409, "ANNUAL_LIMIT_EXCEEDED")

    assert (await get_claim(env, claim["id"]))["status"] == "submitted"
    assert await accumulators(env, case, bill["service_date"]) == ("0.00", "1000.00")
    assert ok(await act(env, claim, "approve", {"approved_amount": "1000.00"}))["status"] == "partially_approved"
