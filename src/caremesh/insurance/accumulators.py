"""Insurance accumulators: approved claims move deductible met and annual limit used, under a row lock."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from caremesh.audit import contract as audit
from caremesh.insurance import domain
from caremesh.insurance.benefits import terms_in_force
from caremesh.insurance.domain import Category
from caremesh.insurance.errors import AnnualLimitExceeded, DeductibleExceeded, NotCovered, NothingToReverse
from caremesh.insurance.models import Accumulator
from caremesh.insurance.repository import ANY_COVERAGE
from caremesh.insurance.verification import _accumulator_query, _amount
from caremesh.platform.uow import UnitOfWork


async def _locked_accumulator(
    uow: UnitOfWork, coverage_id: uuid.UUID, category: str, service_date: date, *, create: bool
) -> Accumulator | None:
    """The accumulator row, under the coverage's row lock (which serialises every change of its accumulators,
    including the first insert of a year's row). Recording (`create`), its copy of the deductible and limit is
    brought to the terms in force on the service date, never below what is already met or used: a benefit change
    moves no accumulator and never breaks their CHECKs."""
    coverage = await ANY_COVERAGE.load(uow, coverage_id, for_update=True)
    year = domain.benefit_year(service_date)
    row = await uow.session.scalar(
        _accumulator_query(coverage_id, category, year).with_for_update().execution_options(populate_existing=True)
    )
    if not create:
        return row
    terms = await terms_in_force(uow.session, coverage.scheme_id, category, service_date)
    if terms is None:
        raise NotCovered()
    if row is None:
        row = Accumulator(
            coverage_id=coverage_id,
            category=category,
            benefit_year=year,
            deductible_met=domain.ZERO,
            limit_used=domain.ZERO,
            updated_at=uow.now(),
        )
        uow.session.add(row)
    row.deductible = max(terms.deductible, row.deductible_met)
    row.annual_limit = None if terms.annual_limit is None else max(terms.annual_limit, row.limit_used)
    return row


async def _move(
    uow: UnitOfWork,
    coverage_id: uuid.UUID,
    category: str,
    service_date: date,
    deductible_applied: Decimal,
    payer_amount: Decimal,
    *,
    reverse: bool,
) -> None:
    """Add (or, reversing, take back) a claim's deductible and payer amount on its accumulators."""
    category = Category(category)
    deductible_applied = _amount("deductible_applied", deductible_applied)
    payer_amount = _amount("payer_amount", payer_amount)
    row = await _locked_accumulator(uow, coverage_id, category, service_date, create=not reverse)
    if reverse:
        if row is None or row.deductible_met < deductible_applied or row.limit_used < payer_amount:
            raise NothingToReverse()
        deductible_applied, payer_amount = -deductible_applied, -payer_amount
    else:
        assert row is not None
        if row.deductible_met + deductible_applied > row.deductible:
            raise DeductibleExceeded(f"Only {row.deductible - row.deductible_met:.2f} of the deductible is left.")
        if row.annual_limit is not None and row.limit_used + payer_amount > row.annual_limit:
            raise AnnualLimitExceeded(f"Only {row.annual_limit - row.limit_used:.2f} of the annual limit is left.")
    row.deductible_met += deductible_applied
    row.limit_used += payer_amount
    row.updated_at = uow.now()
    await uow.session.flush()
    audit.record(uow, f"accumulator.{'reverse' if reverse else 'record'}", "coverage", coverage_id)


async def record_approved_claim(
    uow: UnitOfWork,
    coverage_id: uuid.UUID,
    category: str,
    service_date: date,
    deductible_applied: Decimal,
    payer_amount: Decimal,
) -> None:
    """Move the accumulators of (coverage, category, calendar year of `service_date`) by an approved claim's
    deductible and payer amount, under the coverage's row lock. Call once per approval (idempotency is the
    caller's). Raises 404 COVERAGE_NOT_FOUND, 409 NOT_COVERED (no benefit), 409 DEDUCTIBLE_EXCEEDED,
    409 ANNUAL_LIMIT_EXCEEDED (nothing moves then), 422 for negative or sub-cent amounts."""
    await _move(uow, coverage_id, category, service_date, deductible_applied, payer_amount, reverse=False)


async def reverse_approved_claim(
    uow: UnitOfWork,
    coverage_id: uuid.UUID,
    category: str,
    service_date: date,
    deductible_applied: Decimal,
    payer_amount: Decimal,
) -> None:
    """Take back what `record_approved_claim` moved for a claim overturned or voided later (same arguments).
    Raises 404 COVERAGE_NOT_FOUND, 409 NOTHING_TO_REVERSE when the accumulators hold less."""
    await _move(uow, coverage_id, category, service_date, deductible_applied, payer_amount, reverse=True)
