"""Accumulators move only through record_approved_claim (and its reversal), never past the deductible or limit,
also with many units of work at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Uuid, bindparam, text

from caremesh.insurance import contract
from caremesh.platform.errors import DomainError
from tests.builders.insurance import insured_patient, verify

ON = date(2030, 1, 7)


async def usage(env, coverage) -> list[tuple]:
    async with env.db.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT category, benefit_year, deductible_met, limit_used FROM insurance_accumulators"
                " WHERE coverage_id = :id ORDER BY category, benefit_year"
            ).bindparams(bindparam("id", type_=Uuid)),
            {"id": uuid.UUID(coverage["id"])},
        )
        return [(c, y, f"{Decimal(str(d)):.2f}", f"{Decimal(str(u)):.2f}") for c, y, d, u in rows]


async def record(env, coverage, deductible: str, payer: str, *, on: date = ON, category: str = "consultation"):
    async with env.uow() as uow:
        await contract.record_approved_claim(
            uow, uuid.UUID(coverage["id"]), category, on, Decimal(deductible), Decimal(payer)
        )


async def test_an_approved_claim_moves_the_years_accumulators(env):
    patient, _, coverage = await insured_patient(env, deductible="200", annual_limit="1000")

    await record(env, coverage, "150.00", "300.00")
    await record(env, coverage, "50.00", "100.00")
    await record(env, coverage, "0.00", "10.00", on=date(2031, 3, 1))

    assert await usage(env, coverage) == [
        ("consultation", 2030, "200.00", "400.00"),
        ("consultation", 2031, "0.00", "10.00"),
    ]
    assert (await verify(env, patient, "100.00"))["remaining_annual_limit"] == "600.00"


@pytest.mark.parametrize(
    ("deductible", "payer", "code"),
    [
        ("200.01", "0.00", "DEDUCTIBLE_EXCEEDED"),
        ("0.00", "1000.01", "ANNUAL_LIMIT_EXCEEDED"),
        ("-1.00", "0.00", "VALIDATION_ERROR"),
        ("0.00", "0.001", "VALIDATION_ERROR"),
    ],
)
async def test_nothing_moves_past_the_deductible_or_the_limit(env, deductible, payer, code):
    _, _, coverage = await insured_patient(env, deductible="200", annual_limit="1000")

    with pytest.raises(DomainError) as raised:
        await record(env, coverage, deductible, payer)

    assert raised.value.code == code
    assert await usage(env, coverage) == []


async def test_unknown_coverage_or_category_without_benefit(env):
    _, _, coverage = await insured_patient(env)
    with pytest.raises(DomainError) as unknown:
        await record(env, {"id": str(uuid.uuid4())}, "0.00", "1.00")
    with pytest.raises(DomainError) as uncovered:
        await record(env, coverage, "0.00", "1.00", category="lab")
    assert (unknown.value.code, uncovered.value.code) == ("COVERAGE_NOT_FOUND", "NOT_COVERED")


async def test_a_reversal_takes_back_what_was_recorded_and_no_more(env):
    _, _, coverage = await insured_patient(env, deductible="200", annual_limit="1000")
    await record(env, coverage, "100.00", "300.00")

    async with env.uow() as uow:
        await contract.reverse_approved_claim(
            uow, uuid.UUID(coverage["id"]), "consultation", ON, Decimal("100.00"), Decimal("200.00")
        )
    assert await usage(env, coverage) == [("consultation", 2030, "0.00", "100.00")]
    with pytest.raises(DomainError) as raised:
        async with env.uow() as uow:
            await contract.reverse_approved_claim(
                uow, uuid.UUID(coverage["id"]), "consultation", ON, Decimal("0.00"), Decimal("100.01")
            )
    assert raised.value.code == "NOTHING_TO_REVERSE"
    assert await usage(env, coverage) == [("consultation", 2030, "0.00", "100.00")]


async def _approve_concurrently(env, coverage, n: int, deductible: str, payer: str) -> list[str]:
    await env.warm_pool(n)

    async def approve() -> str:
        try:
            await record(env, coverage, deductible, payer)
        except DomainError as error:
            return error.code
        return "ok"

    # The year's row does not exist yet: they also race to create it.
    return sorted(await asyncio.gather(*(approve() for _ in range(n))))


async def test_concurrent_approvals_use_exactly_the_limit(env):
    _, _, coverage = await insured_patient(env, annual_limit="1000")

    outcomes = await _approve_concurrently(env, coverage, 15, "0.00", "100.00")

    assert outcomes == ["ANNUAL_LIMIT_EXCEEDED"] * 5 + ["ok"] * 10
    assert await usage(env, coverage) == [("consultation", 2030, "0.00", "1000.00")]


async def test_concurrent_approvals_meet_exactly_the_deductible(env):
    _, _, coverage = await insured_patient(env, deductible="50")

    outcomes = await _approve_concurrently(env, coverage, 8, "10.00", "0.00")

    assert outcomes == ["DEDUCTIBLE_EXCEEDED"] * 3 + ["ok"] * 5
    assert await usage(env, coverage) == [("consultation", 2030, "50.00", "0.00")]
