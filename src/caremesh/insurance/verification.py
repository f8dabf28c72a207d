"""Insurance verification: what a coverage pays of a charge, for the API, billing and claims."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.audit import contract as audit
from caremesh.insurance import domain
from caremesh.insurance.benefits import terms_in_force
from caremesh.insurance.domain import ZERO, Category
from caremesh.insurance.models import Accumulator, Coverage, Preauthorization, Scheme
from caremesh.insurance.repository import ANY_COVERAGE
from caremesh.patients import contract as patients
from caremesh.platform.errors import invalid_field
from caremesh.platform.mapping import from_attributes
from caremesh.platform.money import money
from caremesh.platform.uow import UnitOfWork


def _amount(field: str, value: Decimal) -> Decimal:
    if value < 0 or money(value) != value:
        raise invalid_field(field, "must be an amount of at least 0 with at most two decimals")
    return value


def _codes(split: domain.Split) -> tuple[str, ...]:
    return tuple(str(r) for r in split.reasons)


@dataclass(frozen=True)
class Assessment:
    coverage_id: uuid.UUID | None
    split: domain.Split
    requires_preauth: bool


@dataclass(frozen=True)
class Verification:
    """What a coverage pays of a service's amount, as POST /coverage/verify answers it (and the contract's `verify`)."""

    eligible: bool
    coverage_id: uuid.UUID | None
    payer_amount: Decimal
    patient_amount: Decimal  # amount - payer_amount
    deductible_applied: Decimal
    remaining_annual_limit: Decimal | None  # before this service; None: no limit (or no benefit)
    reasons: tuple[str, ...]  # Reason codes; empty when eligible
    copay_applied: Decimal
    requires_preauth: bool

    @classmethod
    def of(cls, assessment: Assessment) -> Verification:
        """The assessment's split (its reasons as codes), with the coverage and the benefit's pre-authorisation."""
        split = assessment.split
        return from_attributes(
            cls,
            split,
            coverage_id=assessment.coverage_id,
            reasons=_codes(split),
            requires_preauth=assessment.requires_preauth,
        )


async def _coverage_facts(session: AsyncSession, patient_id: uuid.UUID) -> list[tuple[domain.CoverageFacts, Coverage]]:
    rows = await session.execute(
        select(Coverage, Scheme.status)
        .join(Scheme, Scheme.id == Coverage.scheme_id)
        .where(Coverage.patient_id == patient_id)
        .order_by(Coverage.created_at, Coverage.id)
    )
    return [
        (domain.CoverageFacts(c.id, c.status, c.valid_from, c.valid_to, scheme_status), c) for c, scheme_status in rows
    ]


def _accumulator_query(coverage_id: uuid.UUID, category: str, year: int) -> Select[tuple[Accumulator]]:
    return select(Accumulator).where(
        Accumulator.coverage_id == coverage_id, Accumulator.category == category, Accumulator.benefit_year == year
    )


async def _usage(session: AsyncSession, coverage_id: uuid.UUID, category: str, on: date) -> domain.Usage:
    row = await session.scalar(_accumulator_query(coverage_id, category, domain.benefit_year(on)))
    return domain.Usage() if row is None else domain.Usage(row.deductible_met, row.limit_used)


async def _preauthorised(
    session: AsyncSession, coverage_id: uuid.UUID, category: str, on: date, amount: Decimal
) -> bool:
    candidates = await session.scalars(
        select(Preauthorization).where(
            Preauthorization.coverage_id == coverage_id,
            Preauthorization.category == category,
            Preauthorization.status == "approved",
            and_(Preauthorization.valid_from <= on, Preauthorization.valid_to >= on),
        )
    )
    # Money is text on SQLite: the amount is compared here, not in SQL.
    return any(p.max_amount is None or amount <= p.max_amount for p in candidates)


async def applicable_coverage(session: AsyncSession, patient_id: uuid.UUID, on: date) -> Coverage | None:
    facts = await _coverage_facts(session, patient_id)
    chosen, _ = domain.pick_coverage([f for f, _ in facts], on)
    return None if chosen is None else next(c for f, c in facts if f.id == chosen.id)


async def assess(
    session: AsyncSession, patient_id: uuid.UUID, category: str, amount: Decimal, service_date: date
) -> Assessment:
    """What the payer and the patient would pay for a service. Reads only: accumulators never move here."""
    facts = await _coverage_facts(session, patient_id)
    chosen, reasons = domain.pick_coverage([f for f, _ in facts], service_date)
    if chosen is None:
        return Assessment(None, domain.not_eligible(amount, reasons), False)
    coverage = next(c for f, c in facts if f.id == chosen.id)
    terms = await terms_in_force(session, coverage.scheme_id, category, service_date)
    if terms is None:
        return Assessment(coverage.id, domain.split(amount, None, domain.Usage(), preauthorised=False), False)
    usage = await _usage(session, coverage.id, category, service_date)
    preauthorised = terms.requires_preauth and await _preauthorised(
        session, coverage.id, category, service_date, money(amount)
    )
    split = domain.split(amount, terms, usage, preauthorised=preauthorised)
    return Assessment(coverage.id, split, terms.requires_preauth)


@dataclass(frozen=True)
class LineDecision:
    eligible: bool
    payer_amount: Decimal
    patient_amount: Decimal  # charge - payer_amount
    deductible_applied: Decimal
    copay_applied: Decimal
    limit_reduction: Decimal  # what the annual limit took off the payer's share
    reasons: tuple[str, ...]  # Reason codes; empty when eligible

    @classmethod
    def of(cls, split: domain.Split, limit_reduction: Decimal = ZERO) -> LineDecision:
        """The line's split (its reasons as codes), with what the annual limit took off."""
        return from_attributes(cls, split, limit_reduction=limit_reduction, reasons=_codes(split))


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
    category = Category(category)
    coverage = await ANY_COVERAGE.load(uow, coverage_id, for_update=True)
    scheme_status = await uow.session.scalar(select(Scheme.status).where(Scheme.id == coverage.scheme_id))
    facts = domain.CoverageFacts(coverage.id, coverage.status, coverage.valid_from, coverage.valid_to, scheme_status)
    problems = domain.coverage_problems(facts, service_date)
    if problems:
        refused = tuple(LineDecision.of(domain.not_eligible(c, problems)) for c in charges)
        return LinesDecision(coverage.id, False, refused)
    terms = await terms_in_force(uow.session, coverage.scheme_id, category, service_date)
    if terms is None:
        refused = tuple(LineDecision.of(domain.not_eligible(c, (domain.Reason.NOT_COVERED,))) for c in charges)
        return LinesDecision(coverage.id, False, refused)
    row = await uow.session.scalar(
        _accumulator_query(coverage.id, category, domain.benefit_year(service_date)).execution_options(
            populate_existing=True
        )
    )
    usage = domain.Usage() if row is None else domain.Usage(row.deductible_met, row.limit_used)
    total = money(sum(charges, Decimal(0)))
    preauthorised = terms.requires_preauth and await _preauthorised(
        uow.session, coverage.id, category, service_date, total
    )
    decisions: list[LineDecision] = []
    for charge, cap in zip(charges, caps, strict=True):
        split = domain.split(charge, terms, usage, preauthorised=preauthorised)
        unlimited = money(
            (money(charge) - split.deductible_applied - split.copay_applied) * terms.coverage_percent / 100
        )
        reduction = max(ZERO, unlimited - split.payer_amount) if split.eligible else ZERO
        payer = min(split.payer_amount, money(cap))
        split = replace(
            split, payer_amount=payer, patient_amount=money(split.patient_amount + split.payer_amount - payer)
        )
        usage = domain.Usage(money(usage.deductible_met + split.deductible_applied), money(usage.limit_used + payer))
        decisions.append(LineDecision.of(split, reduction))
    return LinesDecision(coverage.id, terms.requires_preauth, tuple(decisions))


async def verify_coverage(
    uow: UnitOfWork, patient_id: uuid.UUID, category: str, amount: Decimal, on: date
) -> Verification:
    """POST /coverage/verify: the patient must exist and be visible to the principal."""
    may_see = uow.actor is None or uow.actor.may_see_patient(patient_id)
    if not may_see or await patients.find_patient(uow.session, patient_id) is None:
        raise patients.PatientNotFound()
    assessment = await assess(uow.session, patient_id, category, _amount("amount", amount), on)
    audit.record(uow, "coverage.verify", "patient", patient_id)
    return Verification.of(assessment)


async def verify(
    session: AsyncSession, patient_id: uuid.UUID, category: str, amount: Decimal, service_date: date
) -> Verification:
    """The payer's and patient's shares of `amount` for a service, as POST /coverage/verify computes them. Reads
    only; `amount` must not be negative (ValueError)."""
    return Verification.of(await assess(session, patient_id, Category(category), amount, service_date))


async def coverage_percent(session: AsyncSession, patient_id: uuid.UUID, category: str, on: date) -> Decimal | None:
    """The coverage percent (0-100) of the patient's coverage that applies on `on` (active, within its dates, scheme
    active) for `category`, by the benefit's terms in force on `on`: Decimal("0.00") when that coverage has no benefit
    for it, or when the patient is enrolled but no coverage applies on that date; None when the patient has no
    coverage at all (billing's default decides)."""
    facts = await _coverage_facts(session, patient_id)
    if not facts:
        return None
    chosen, _ = domain.pick_coverage([f for f, _ in facts], on)
    if chosen is None:
        return Decimal("0.00")
    coverage = next(c for f, c in facts if f.id == chosen.id)
    terms = await terms_in_force(session, coverage.scheme_id, category, on)
    return Decimal("0.00") if terms is None else terms.coverage_percent
