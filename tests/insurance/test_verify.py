"""POST /coverage/verify adjudicates like a claim would, without moving anything: a table of cases."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from caremesh.insurance import contract
from tests.builders.insurance import (
    COVERAGES,
    SCHEMES,
    VERIFY,
    add_benefit,
    insured_patient,
    make_coverage,
    make_scheme,
    preauthorize,
    verify,
)
from tests.builders.patients import make_patient
from tests.harness import assert_problem


async def record(env, coverage, deductible: str, payer: str, on: str = "2030-01-07", category: str = "consultation"):
    async with env.uow() as uow:
        await contract.record_approved_claim(
            uow, uuid.UUID(coverage["id"]), category, date.fromisoformat(on), Decimal(deductible), Decimal(payer)
        )


def shares(result: dict) -> tuple:
    return (
        result["eligible"],
        result["payer_amount"],
        result["patient_amount"],
        result["deductible_applied"],
        result["copay_applied"],
        result["remaining_annual_limit"],
        result["reasons"],
    )


@pytest.mark.parametrize(
    ("benefit", "used", "amount", "expected"),
    [
        # plain coverage percent
        ({"coverage_percent": "80"}, None, "1000.00", (True, "800.00", "200.00", "0.00", "0.00", None, [])),
        # HALF_UP to the cent: 333.33 x 33.33 % = 111.0989 -> 111.10
        ({"coverage_percent": "33.33"}, None, "333.33", (True, "111.10", "222.23", "0.00", "0.00", None, [])),
        # deductible 200 with 150 met, co-pay 50: (1000 - 50 - 50) x 80 %
        (
            {"coverage_percent": "80", "deductible": "200", "copay_amount": "50", "annual_limit": "5000"},
            ("150.00", "0.00"),
            "1000.00",
            (True, "720.00", "280.00", "50.00", "50.00", "5000.00", []),
        ),
        # the deductible swallows a small bill; no co-pay left to take
        (
            {"coverage_percent": "80", "deductible": "500", "copay_amount": "50"},
            None,
            "300.00",
            (True, "0.00", "300.00", "300.00", "0.00", None, []),
        ),
        # the limit's remainder caps the payer
        (
            {"coverage_percent": "80", "annual_limit": "1000"},
            ("0.00", "900.00"),
            "1000.00",
            (True, "100.00", "900.00", "0.00", "0.00", "100.00", []),
        ),
        # the limit is used up
        (
            {"coverage_percent": "80", "annual_limit": "1000"},
            ("0.00", "1000.00"),
            "1000.00",
            (False, "0.00", "1000.00", "0.00", "0.00", "0.00", ["ANNUAL_LIMIT_EXHAUSTED"]),
        ),
        # no benefit for the category
        ({"category": "lab"}, None, "1000.00", (False, "0.00", "1000.00", "0.00", "0.00", None, ["NOT_COVERED"])),
        # a pre-authorisation is needed and missing
        (
            {"requires_preauth": True},
            None,
            "1000.00",
            (False, "0.00", "1000.00", "0.00", "0.00", None, ["PREAUTH_REQUIRED"]),
        ),
    ],
)
async def test_verification_table(env, benefit, used, amount, expected):
    patient, _, coverage = await insured_patient(env, **benefit)
    if used:
        await record(env, coverage, *used)
    before = await env.count("insurance_accumulators")

    result = await verify(env, patient, amount)

    assert shares(result) == expected
    assert result["coverage_id"] == coverage["id"]
    assert result["currency"] == "INR"
    assert await env.count("insurance_accumulators") == before  # verification never moves accumulators


async def test_last_years_usage_does_not_count_this_year(env):
    patient, _, coverage = await insured_patient(env, coverage_percent="80", annual_limit="1000", deductible="100")
    await record(env, coverage, "100.00", "1000.00", on="2029-06-01")

    result = await verify(env, patient, "100.00")

    assert shares(result) == (True, "0.00", "100.00", "100.00", "0.00", "1000.00", [])


@pytest.mark.parametrize(
    ("preauth", "amount", "eligible"),
    [
        ({}, "1000.00", True),
        ({"max_amount": "1000.00"}, "1000.00", True),
        ({"max_amount": "999.99"}, "1000.00", False),
        ({"category": "lab"}, "1000.00", False),
        ({"valid_from": "2030-01-08", "valid_to": "2030-02-01"}, "1000.00", False),
        ({"valid_from": "2029-01-01", "valid_to": "2030-01-06"}, "1000.00", False),
        ({"valid_from": "2030-01-07", "valid_to": "2030-01-07"}, "1000.00", True),
    ],
)
async def test_a_preauthorisation_must_cover_date_category_and_amount(env, preauth, amount, eligible):
    patient, _, coverage = await insured_patient(env, coverage_percent="50", requires_preauth=True)
    await preauthorize(env, coverage, **preauth)

    result = await verify(env, patient, amount)

    assert result["eligible"] is eligible
    assert result["requires_preauth"] is True
    assert result["payer_amount"] == ("500.00" if eligible else "0.00")
    assert result["reasons"] == ([] if eligible else ["PREAUTH_REQUIRED"])


async def test_why_no_coverage_applies(env):
    nobody = await make_patient(env)
    assert shares(await verify(env, nobody, "100.00"))[-1] == ["NO_COVERAGE"]

    expired_patient = await make_patient(env)
    await make_coverage(env, patient=expired_patient, valid_from="2029-01-01", valid_to="2030-01-06")
    assert (await verify(env, expired_patient, "100.00"))["reasons"] == ["COVERAGE_EXPIRED"]
    assert (await verify(env, expired_patient, "100.00", service_date="2030-01-06"))["reasons"] == ["NOT_COVERED"]

    future_patient = await make_patient(env)
    await make_coverage(env, patient=future_patient, valid_from="2030-02-01")
    assert (await verify(env, future_patient, "100.00"))["reasons"] == ["COVERAGE_NOT_STARTED"]

    suspended_patient = await make_patient(env)
    scheme = await make_scheme(env)
    await add_benefit(env, scheme)
    await make_coverage(env, patient=suspended_patient, scheme=scheme)
    assert (await verify(env, suspended_patient, "100.00"))["eligible"] is True
    await env.client.post(f"{SCHEMES}/{scheme['id']}/suspend", headers=env.admin)
    suspended = await verify(env, suspended_patient, "100.00")
    assert shares(suspended) == (False, "0.00", "100.00", "0.00", "0.00", None, ["SCHEME_SUSPENDED"])
    assert suspended["coverage_id"] is None

    inactive_patient = await make_patient(env)
    inactive = await make_coverage(env, patient=inactive_patient, valid_to="2029-12-31", valid_from="2029-01-01")
    await env.client.post(f"{COVERAGES}/{inactive['id']}/deactivate", headers=env.admin)
    assert (await verify(env, inactive_patient, "100.00"))["reasons"] == ["COVERAGE_INACTIVE", "COVERAGE_EXPIRED"]


async def test_the_coverage_that_applies_is_chosen_among_several(env):
    patient = await make_patient(env)
    old_scheme, new_scheme = await make_scheme(env), await make_scheme(env)
    await add_benefit(env, old_scheme, coverage_percent="50")
    await add_benefit(env, new_scheme, coverage_percent="90")
    await make_coverage(env, patient=patient, scheme=old_scheme, valid_from="2029-01-01", valid_to="2029-12-31")
    current = await make_coverage(env, patient=patient, scheme=new_scheme, valid_from="2030-01-01")

    result = await verify(env, patient, "100.00")

    assert (result["coverage_id"], result["payer_amount"]) == (current["id"], "90.00")
    older = await verify(env, patient, "100.00", service_date="2029-06-30")
    assert older["payer_amount"] == "50.00"


async def test_malformed_or_unknown_verifications(env):
    patient = await make_patient(env)
    body = {"patient_id": patient["id"], "category": "consultation", "amount": "10.00", "service_date": "2030-01-07"}
    for bad in [{"amount": "-1"}, {"amount": "1.001"}, {"category": "dental"}, {"service_date": "tomorrow"}]:
        response = await env.client.post(VERIFY, json={**body, **bad}, headers=env.admin)
        assert_problem(response, 422, "VALIDATION_ERROR")
    unknown = {**body, "patient_id": str(uuid.uuid4())}
    assert_problem(await env.client.post(VERIFY, json=unknown, headers=env.admin), 404, "PATIENT_NOT_FOUND")
