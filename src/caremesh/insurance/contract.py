"""What other contexts may use of insurance: coverage lookups for billing, verification and the accumulators for
claims, BIN/PCN resolution, and the event names.

Accumulators (deductible met, annual limit used per coverage, category and benefit year) move only through
`record_approved_claim` (and its reversal), under the coverage's row lock; their CHECK constraints keep them
between 0 and the benefit's deductible and limit whatever the code does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.insurance import accumulators, service, verification
from caremesh.insurance.domain import Category, Reason
from caremesh.insurance.errors import (
    AnnualLimitExceeded,
    CoverageNotFound,
    DeductibleExceeded,
    NotCovered,
    NothingToReverse,
)
from caremesh.insurance.events import (
    COVERAGE_CREATED,
    SCHEME_ACTIVATED,
    SCHEME_SUSPENDED,
    CoverageCreated,
    SchemeActivated,
    SchemeSuspended,
)
from caremesh.insurance.models import Coverage, Payer
from caremesh.platform.uow import UnitOfWork

__all__ = [
    "COVERAGE_CREATED",
    "SCHEME_ACTIVATED",
    "SCHEME_SUSPENDED",
    "AnnualLimitExceeded",
    "Category",
    "CoverageCreated",
    "CoverageNotFound",
    "CoverageSummary",
    "DeductibleExceeded",
    "LineDecision",
    "LinesDecision",
    "NotCovered",
    "NothingToReverse",
    "PayerSummary",
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
class Verification:
    eligible: bool
    coverage_id: uuid.UUID | None
    payer_amount: Decimal
    patient_amount: Decimal  # amount - payer_amount
    deductible_applied: Decimal
    remaining_annual_limit: Decimal | None  # before this service; None: no limit (or no benefit)
    reasons: tuple[str, ...]  # Reason codes; empty when eligible
    copay_applied: Decimal
    requires_preauth: bool


@dataclass(frozen=True)
class LineDecision:
    eligible: bool
    payer_amount: Decimal
    patient_amount: Decimal  # charge - payer_amount
    deductible_applied: Decimal
    copay_applied: Decimal
    limit_reduction: Decimal  # what the annual limit took off the payer's share
    reasons: tuple[str, ...]  # Reason codes; empty when eligible


@dataclass(frozen=True)
class LinesDecision:
    coverage_id: uuid.UUID | None
    requires_preauth: bool
    lines: tuple[LineDecision, ...]

    @property
    def deductible_applied(self) -> Decimal:
        return sum((line.deductible_applied for line in self.lines), Decimal("0.00"))

    @property
    def payer_amount(self) -> Decimal:
        return sum((line.payer_amount for line in self.lines), Decimal("0.00"))


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


async def coverage_percent(session: AsyncSession, patient_id: uuid.UUID, category: str, on: date) -> Decimal | None:
    """The coverage percent (0-100) of the patient's coverage that applies on `on` (active, within its dates, scheme
    active) for `category`: Decimal("0.00") when that coverage has no benefit for it, or when the patient is enrolled
    but no coverage applies on that date; None when the patient has no coverage at all (billing's default decides)."""
    return await verification.coverage_percent(session, patient_id, category, on)


async def verify(
    session: AsyncSession, patient_id: uuid.UUID, category: str, amount: Decimal, service_date: date
) -> Verification:
    """The payer's and patient's shares of `amount` for a service, as POST /coverage/verify computes them. Reads
    only; `amount` must not be negative (ValueError)."""
    assessment = await verification.assess(session, patient_id, Category(category), amount, service_date)
    split = assessment.split
    return Verification(
        eligible=split.eligible,
        coverage_id=assessment.coverage_id,
        payer_amount=split.payer_amount,
        patient_amount=split.patient_amount,
        deductible_applied=split.deductible_applied,
        remaining_annual_limit=split.remaining_annual_limit,
        reasons=tuple(str(r) for r in split.reasons),
        copay_applied=split.copay_applied,
        requires_preauth=assessment.requires_preauth,
    )


async def adjudicate_lines(
    uow: UnitOfWork,
    coverage_id: uuid.UUID,
    category: str,
    service_date: date,
    charges: Sequence[Decimal],
    caps: Sequence[Decimal],
) -> LinesDecision:
    """Split each of a claim's line charges between payer and patient under the coverage, in order, each line's
    deductible and payer amount counting against the next; a line's payer amount never exceeds its cap (what the
    claim asks). The coverage's validity, its scheme's status, the benefit and any pre-authorisation (for the lines'
    total) decide eligibility. Reads the accumulators under the coverage's row lock, held to the end of the caller's
    transaction: call `record_approved_claim` in the same transaction with what you accept.
    Raises 404 COVERAGE_NOT_FOUND."""
    assessed = await verification.assess_lines(uow, coverage_id, Category(category), service_date, charges, caps)
    return LinesDecision(
        coverage_id=assessed.coverage_id,
        requires_preauth=assessed.requires_preauth,
        lines=tuple(
            LineDecision(
                eligible=split.eligible,
                payer_amount=split.payer_amount,
                patient_amount=split.patient_amount,
                deductible_applied=split.deductible_applied,
                copay_applied=split.copay_applied,
                limit_reduction=reduction,
                reasons=tuple(str(r) for r in split.reasons),
            )
            for split, reduction in zip(assessed.lines, assessed.limit_reductions, strict=True)
        ),
    )


def _payer(payer: Payer) -> PayerSummary:
    return PayerSummary(id=payer.id, code=payer.code, name=payer.name, bin=payer.bin, pcn=payer.pcn)


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
    return CoverageSummary(
        id=coverage.id,
        patient_id=coverage.patient_id,
        scheme_id=coverage.scheme_id,
        payer_id=coverage.payer_id,
        member_id=coverage.member_id,
        valid_from=coverage.valid_from,
        valid_to=coverage.valid_to,
        status=coverage.status,
    )


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
    await accumulators.record_approved_claim(
        uow, coverage_id, Category(category), service_date, deductible_applied, payer_amount
    )


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
    await accumulators.reverse_approved_claim(
        uow, coverage_id, Category(category), service_date, deductible_applied, payer_amount
    )
