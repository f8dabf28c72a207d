"""Insurance accumulators: approved claims move deductible met and annual limit used, under a row lock."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from caremesh.audit import contract as audit
from caremesh.insurance import domain
from caremesh.insurance.errors import (
    AnnualLimitExceeded,
    CoverageNotFound,
    DeductibleExceeded,
    NotCovered,
    NothingToReverse,
)
from caremesh.insurance.models import Accumulator, Coverage
from caremesh.insurance.verification import _accumulator_query, _amount, _benefit
from caremesh.platform.uow import UnitOfWork


async def _locked_accumulator(
    uow: UnitOfWork, coverage_id: uuid.UUID, category: str, service_date: date, *, create: bool
) -> Accumulator | None:
    """The accumulator row, under the coverage's row lock (which serialises every change of its accumulators,
    including the first insert of a year's row)."""
    coverage = await uow.session.scalar(select(Coverage).where(Coverage.id == coverage_id).with_for_update())
    if coverage is None:
        raise CoverageNotFound()
    year = domain.benefit_year(service_date)
    row = await uow.session.scalar(
        _accumulator_query(coverage_id, category, year).with_for_update().execution_options(populate_existing=True)
    )
    if row is not None or not create:
        return row
    benefit = await _benefit(uow.session, coverage.scheme_id, category)
    if benefit is None:
        raise NotCovered()
    row = Accumulator(
        coverage_id=coverage_id,
        category=category,
        benefit_year=year,
        deductible=benefit.deductible,
        annual_limit=benefit.annual_limit,
        deductible_met=domain.ZERO,
        limit_used=domain.ZERO,
        updated_at=uow.now(),
    )
    uow.session.add(row)
    return row


async def record_approved_claim(
    uow: UnitOfWork,
    coverage_id: uuid.UUID,
    category: str,
    service_date: date,
    deductible_applied: Decimal,
    payer_amount: Decimal,
) -> None:
    deductible_applied = _amount("deductible_applied", deductible_applied)
    payer_amount = _amount("payer_amount", payer_amount)
    row = await _locked_accumulator(uow, coverage_id, category, service_date, create=True)
    assert row is not None
    if row.deductible_met + deductible_applied > row.deductible:
        raise DeductibleExceeded(f"Only {row.deductible - row.deductible_met:.2f} of the deductible is left.")
    if row.annual_limit is not None and row.limit_used + payer_amount > row.annual_limit:
        raise AnnualLimitExceeded(f"Only {row.annual_limit - row.limit_used:.2f} of the annual limit is left.")
    row.deductible_met += deductible_applied
    row.limit_used += payer_amount
    row.updated_at = uow.now()
    await uow.session.flush()
    audit.record(uow, "accumulator.record", "coverage", coverage_id)


async def reverse_approved_claim(
    uow: UnitOfWork,
    coverage_id: uuid.UUID,
    category: str,
    service_date: date,
    deductible_applied: Decimal,
    payer_amount: Decimal,
) -> None:
    deductible_applied = _amount("deductible_applied", deductible_applied)
    payer_amount = _amount("payer_amount", payer_amount)
    row = await _locked_accumulator(uow, coverage_id, category, service_date, create=False)
    if row is None or row.deductible_met < deductible_applied or row.limit_used < payer_amount:
        raise NothingToReverse()
    row.deductible_met -= deductible_applied
    row.limit_used -= payer_amount
    row.updated_at = uow.now()
    await uow.session.flush()
    audit.record(uow, "accumulator.reverse", "coverage", coverage_id)
