"""The database refuses impossible insurance rows by itself, whatever SQL reaches it."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import TextClause

from caremesh.insurance import contract
from tests.builders.insurance import add_rate, insured_patient, make_payer


async def refuses(env, statement: str | TextClause, constraints: set[str], **params) -> None:
    async with env.db.engine.connect() as connection:
        with pytest.raises(IntegrityError) as raised:
            await connection.execute(text(statement) if isinstance(statement, str) else statement, params)
        await connection.rollback()
    message = str(raised.value.orig)
    assert any(name in message for name in constraints), message


@pytest.mark.parametrize(
    ("assignment", "constraint"),
    [
        ("deductible_met = '200.01'", "deductible_met_within"),
        ("deductible_met = '-0.01'", "deductible_met_within"),
        ("limit_used = '1000.01'", "limit_used_within"),
        ("limit_used = '-0.01'", "limit_used_within"),
        ("category = 'dental'", "category_known"),
    ],
)
async def test_accumulators_stay_within_the_benefit(env, assignment, constraint):
    _, _, coverage = await insured_patient(env, deductible="200", annual_limit="1000")
    async with env.uow() as uow:
        await contract.record_approved_claim(
            uow, uuid.UUID(coverage["id"]), "consultation", date(2030, 1, 7), Decimal("10.00"), Decimal("10.00")
        )

    await refuses(env, f"UPDATE insurance_accumulators SET {assignment}", {constraint})


async def test_benefits_rates_and_coverages_refuse_impossible_values(env):
    _, scheme, _ = await insured_patient(env)
    await add_rate(env, scheme, 0, 10, "100.00")
    await make_payer(env, bin="610014")

    for statement, constraint in [
        ("UPDATE insurance_benefit_terms SET coverage_percent = '100.01'", "coverage_percent_range"),
        ("UPDATE insurance_benefit_terms SET coverage_percent = '-1'", "coverage_percent_range"),
        ("UPDATE insurance_benefit_terms SET copay_amount = '-0.01'", "money_not_negative"),
        ("UPDATE insurance_benefit_terms SET annual_limit = '-1'", "money_not_negative"),
        ("UPDATE insurance_premium_rates SET max_age = min_age - 1", "age_band_valid"),
        ("UPDATE insurance_premium_rates SET monthly_premium = '-1'", "premium_not_negative"),
        ("UPDATE insurance_coverages SET valid_to = '2029-12-31'", "valid_range"),
        ("UPDATE insurance_coverages SET status = 'lapsed'", "status_known"),
        ("UPDATE insurance_schemes SET status = 'closed'", "status_known"),
        ("UPDATE insurance_payers SET bin = NULL, pcn = 'X'", "pcn_needs_bin"),
    ]:
        await refuses(env, statement, {constraint})


async def test_one_payer_per_bare_bin_and_one_benefit_per_category(env):
    await make_payer(env, bin="610014")
    other = await make_payer(env)
    await refuses(
        env,
        "UPDATE insurance_payers SET bin = '610014' WHERE code = :code",
        {"uq_insurance_payers_bin_without_pcn", "insurance_payers.bin"},
        code=other["code"],
    )
    await insured_patient(env)
    copy = text(
        "INSERT INTO insurance_benefits (id, scheme_id, category, version, created_at, updated_at)"
        " SELECT :id, scheme_id, category, 1, created_at, updated_at FROM insurance_benefits"
    ).bindparams(bindparam("id", type_=Uuid))
    await refuses(
        env, copy, {"uq_insurance_benefits_scheme_id_category", "insurance_benefits.scheme_id"}, id=uuid.uuid4()
    )
