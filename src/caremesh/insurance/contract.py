"""What other contexts may use of insurance: coverage lookups for billing, verification and the accumulators for
claims, BIN/PCN resolution, and the event names.

Accumulators (deductible met, annual limit used per coverage, category and benefit year) move only through
`record_approved_claim` (and its reversal), under the coverage's row lock; their CHECK constraints keep them
between 0 and the benefit's deductible and limit whatever the code does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.insurance import service, verification
from caremesh.insurance.accumulators import record_approved_claim, reverse_approved_claim
from caremesh.insurance.domain import Category, CategoryName, Reason
from caremesh.insurance.errors import (
    AnnualLimitExceeded,
    CoverageNotFound,
    DeductibleExceeded,
    NotCovered,
    NothingToReverse,
)
from caremesh.insurance.events import (
    COMMISSION_ACCRUED,
    COMMISSION_PAYOUT_MADE,
    COVERAGE_CREATED,
    PREMIUM_BILLED,
    SCHEME_ACTIVATED,
    SCHEME_SUSPENDED,
    CommissionAccrued,
    CommissionPayoutMade,
    CoverageCreated,
    PremiumBilled,
    SchemeActivated,
    SchemeSuspended,
)
from caremesh.insurance.models import Coverage, Payer
from caremesh.insurance.schemas import CoverageFilters
from caremesh.insurance.verification import (
    LineDecision,
    LinesDecision,
    Verification,
    adjudicate_lines,
    coverage_percent,
    verify,
)
from caremesh.platform.pagination import PageParams
from caremesh.platform.uow import UnitOfWork

__all__ = [
    "COMMISSION_ACCRUED",
    "COMMISSION_PAYOUT_MADE",
    "COVERAGE_CREATED",
    "PREMIUM_BILLED",
    "SCHEME_ACTIVATED",
    "SCHEME_SUSPENDED",
    "AnnualLimitExceeded",
    "Category",
    "CategoryName",
    "CommissionAccrued",
    "CommissionPayoutMade",
    "CoverageCreated",
    "CoverageNotFound",
    "CoverageSummary",
    "DeductibleExceeded",
    "LineDecision",
    "LinesDecision",
    "NotCovered",
    "NothingToReverse",
    "PayerSummary",
    "PremiumBilled",
    "Reason",
    "SchemeActivated",
    "SchemeSuspended",
    "Verification",
    "adjudicate_lines",
    "applicable_coverage",
    "coverage_percent",
    "find_coverage",
    "find_payer",
    "find_payer_by_code",
    "payer_for",
    "record_approved_claim",
    "reverse_approved_claim",
    "verify",
]


@dataclass(frozen=True)
class PayerSummary:
    id: uuid.UUID
    code: str
    name: str
    bin: str | None
    pcn: str | None


@dataclass(frozen=True)
class CoverageSummary:
    id: uuid.UUID
    patient_id: uuid.UUID
    scheme_id: uuid.UUID
    payer_id: uuid.UUID
    member_id: str
    valid_from: date
    valid_to: date | None
    status: str  # active | inactive


SummaryT = TypeVar("SummaryT")


def _summary(summary: type[SummaryT], row: Any) -> SummaryT:
    """The row's fields that the summary names."""
    return summary(**{field.name: getattr(row, field.name) for field in fields(summary)})  # type: ignore[arg-type]


def _payer(payer: Payer) -> PayerSummary:
    return _summary(PayerSummary, payer)


async def payer_for(session: AsyncSession, bin: str | None, pcn: str | None) -> PayerSummary | None:
    """The payer of a patient's `insurance_bin`/`insurance_pcn`: exact (BIN, PCN) first, then the BIN's payer without
    a PCN, then the only payer holding the BIN; None when none (or no BIN)."""
    payer = await service.resolve_payer(session, bin, pcn)
    return None if payer is None else _payer(payer)


async def find_payer(session: AsyncSession, payer_id: uuid.UUID) -> PayerSummary | None:
    payer = await session.get(Payer, payer_id)
    return None if payer is None else _payer(payer)


async def find_payer_by_code(session: AsyncSession, code: str) -> PayerSummary | None:
    payer = await session.scalar(select(Payer).where(Payer.code == code))
    return None if payer is None else _payer(payer)


async def find_coverage(session: AsyncSession, coverage_id: uuid.UUID) -> CoverageSummary | None:
    coverage = await session.get(Coverage, coverage_id, populate_existing=True)
    return None if coverage is None else _coverage(coverage)


async def applicable_coverage(session: AsyncSession, patient_id: uuid.UUID, on: date) -> CoverageSummary | None:
    """The patient's coverage that applies on `on` (active, within its dates, its scheme active), as verification
    and billing choose it; None when none does."""
    coverage = await verification.applicable_coverage(session, patient_id, on)
    return None if coverage is None else _coverage(coverage)


def _coverage(coverage: Coverage) -> CoverageSummary:
    return _summary(CoverageSummary, coverage)


# --- issue 17: reads for the FHIR facade, through the same use cases as GET /coverages (scoping and audit) ---


@dataclass(frozen=True)
class CoverageRecord:
    """A coverage with its payer and the scheme (plan) it is under."""

    coverage: CoverageSummary
    payer: PayerSummary
    scheme_code: str
    scheme_name: str


async def _record(uow: UnitOfWork, coverage: Coverage) -> CoverageRecord:
    payer = await service.get_payer(uow, coverage.payer_id)
    scheme = await service.get_scheme(uow, coverage.scheme_id)
    return CoverageRecord(_coverage(coverage), _payer(payer), scheme.code, scheme.name)


async def read_coverage(uow: UnitOfWork, coverage_id: uuid.UUID) -> CoverageRecord:
    """Only if the principal may see it (a patient: their own), audited as `coverage.read`; else CoverageNotFound."""
    return await _record(uow, await service.get_coverage(uow, coverage_id))


async def search_coverages(
    uow: UnitOfWork, *, patient_id: uuid.UUID | None = None, limit: int, cursor: str | None = None
) -> tuple[list[CoverageRecord], str | None]:
    """One page of what `GET /coverages` lists (of one patient, if given), scoped and audited as it is; and the next
    cursor."""
    filters = CoverageFilters(patient_id=patient_id, member_id=None)  # (member_id's default is FastAPI's Query)
    rows, next_cursor = await service.list_coverages(uow, filters, PageParams(limit=limit, cursor=cursor))
    return [await _record(uow, row) for row in rows], next_cursor


__all__ += ["CoverageRecord", "read_coverage", "search_coverages"]
