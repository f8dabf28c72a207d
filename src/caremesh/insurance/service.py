"""Insurance use cases: payers, schemes, benefits, premium rates, coverages, pre-authorisations, verification and
the accumulators claims move.

Every use case takes the unit of work and flushes; the entrypoint commits. Uniqueness (payer code, BIN/PCN,
benefit per category, member id per payer) is the database's; a lost race surfaces as the same 409 as the check.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.audit import contract as audit
from caremesh.insurance import domain
from caremesh.insurance.domain import ZERO, CoverageStatus, SchemeStatus
from caremesh.insurance.events import CoverageCreated, SchemeActivated, SchemeSuspended
from caremesh.insurance.models import (
    BENEFIT_CATEGORY,
    MEMBER_ID,
    PAYER_BIN_PCN,
    PAYER_CODE,
    SCHEME_CODE,
    Accumulator,
    Benefit,
    Coverage,
    Payer,
    Preauthorization,
    PremiumRate,
    Scheme,
)
from caremesh.insurance.schemas import (
    BenefitCreate,
    CoverageCreate,
    PayerCreate,
    PreauthorizationCreate,
    PremiumRateCreate,
    SchemeCreate,
)
from caremesh.patients import contract as patients
from caremesh.platform.db import one_or_raise, violates, where_given
from caremesh.platform.errors import Conflict, NotFound, check_version, invalid_field
from caremesh.platform.money import money
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

# --- errors --------------------------------------------------------------------------------------------


class PayerNotFound(NotFound):
    code, title = "PAYER_NOT_FOUND", "Payer not found"


class SchemeNotFound(NotFound):
    code, title = "SCHEME_NOT_FOUND", "Scheme not found"


class CoverageNotFound(NotFound):
    code, title = "COVERAGE_NOT_FOUND", "Coverage not found"


class PreauthorizationNotFound(NotFound):
    code, title = "PREAUTHORIZATION_NOT_FOUND", "Pre-authorisation not found"


class PatientNotFound(NotFound):
    code, title = "PATIENT_NOT_FOUND", "Patient not found"


class NoPremiumRate(NotFound):
    code, title = "NO_PREMIUM_RATE", "No premium rate covers this age"


class PayerCodeExists(Conflict):
    code, title = "PAYER_CODE_EXISTS", "A payer with this code exists"


class PayerBinPcnExists(Conflict):
    code, title = "PAYER_BIN_PCN_EXISTS", "Another payer has this BIN and PCN"


class SchemeCodeExists(Conflict):
    code, title = "SCHEME_CODE_EXISTS", "The payer has a scheme with this code"


class BenefitExists(Conflict):
    code, title = "BENEFIT_EXISTS", "The scheme has a benefit for this category"


class PremiumRateOverlap(Conflict):
    code, title = "OVERLAPPING_PREMIUM_BANDS", "The age band overlaps another of the scheme"


class MemberIdExists(Conflict):
    code, title = "MEMBER_ID_EXISTS", "The payer has a coverage with this member id"


class InvalidStatusTransition(Conflict):
    code, title = "INVALID_STATUS_TRANSITION", "The resource is already in that status"


class NotCovered(Conflict):
    code, title = "NOT_COVERED", "The coverage's scheme has no benefit for this category"


class DeductibleExceeded(Conflict):
    code, title = "DEDUCTIBLE_EXCEEDED", "More deductible than is left this benefit year"


class AnnualLimitExceeded(Conflict):
    code, title = "ANNUAL_LIMIT_EXCEEDED", "More than the annual limit's remainder"


class NothingToReverse(Conflict):
    code, title = "NOTHING_TO_REVERSE", "The accumulators hold less than the reversal"


# --- helpers -------------------------------------------------------------------------------------------


def _violates_any(error: IntegrityError, names: Iterable[str]) -> bool:
    return any(violates(error, name) for name in names)


def _currency(uow: UnitOfWork) -> str:
    return uow.settings.app.currency


def _may_see(uow: UnitOfWork, patient_id: uuid.UUID) -> bool:
    return uow.actor is None or uow.actor.may_see_patient(patient_id)


def _visible_coverages(uow: UnitOfWork, query: Select[Any]) -> Select[Any]:
    """A patient-role principal sees only their own coverages; others do not exist for them."""
    if uow.actor is not None and uow.actor.is_patient_only:
        return query.where(Coverage.patient_id == uow.actor.patient_id)
    return query


def _amount(field: str, value: Decimal) -> Decimal:
    if value < 0 or money(value) != value:
        raise invalid_field(field, "must be an amount of at least 0 with at most two decimals")
    return value


# --- payers --------------------------------------------------------------------------------------------


async def create_payer(uow: UnitOfWork, data: PayerCreate) -> Payer:
    if await uow.session.scalar(select(Payer.id).where(Payer.code == data.code)) is not None:
        raise PayerCodeExists(f"A payer with code {data.code} exists.")
    if data.bin is not None and await _payer_by_bin_pcn(uow.session, data.bin, data.pcn) is not None:
        raise PayerBinPcnExists()
    payer = Payer(code=data.code, name=data.name, bin=data.bin, pcn=data.pcn, created_at=uow.now())
    uow.session.add(payer)
    try:
        await uow.session.flush()
    except IntegrityError as error:
        if _violates_any(error, PAYER_CODE):
            raise PayerCodeExists() from error
        if _violates_any(error, PAYER_BIN_PCN):
            raise PayerBinPcnExists() from error
        raise
    audit.record(uow, "payer.create", "payer", payer.id)
    return payer


async def _payer_by_bin_pcn(session: AsyncSession, bin_: str, pcn: str | None) -> Payer | None:
    pcn_matches = Payer.pcn.is_(None) if pcn is None else Payer.pcn == pcn
    return await session.scalar(select(Payer).where(Payer.bin == bin_, pcn_matches))


async def resolve_payer(session: AsyncSession, bin_: str | None, pcn: str | None) -> Payer | None:
    """Exact (BIN, PCN) first; then the BIN's payer without a PCN; then the only payer holding the BIN."""
    if not bin_:
        return None
    if pcn and (exact := await _payer_by_bin_pcn(session, bin_, pcn)) is not None:
        return exact
    if (default := await _payer_by_bin_pcn(session, bin_, None)) is not None:
        return default
    holders = (await session.scalars(select(Payer).where(Payer.bin == bin_).limit(2))).all()
    return holders[0] if len(holders) == 1 else None


async def get_payer(uow: UnitOfWork, payer_id: uuid.UUID) -> Payer:
    payer = await uow.session.get(Payer, payer_id)
    if payer is None:
        raise PayerNotFound()
    return payer


async def list_payers(
    uow: UnitOfWork, *, code: str | None, bin_: str | None, pcn: str | None, page: PageParams
) -> tuple[list[Payer], str | None]:
    """`bin` with `pcn` resolves like a patient's card (see `resolve_payer`); otherwise plain filters."""
    if bin_ is not None and pcn is not None:
        payer = await resolve_payer(uow.session, bin_, pcn)
        return ([payer] if payer is not None and code in (None, payer.code) else []), None
    query = select(Payer)
    if code is not None:
        query = query.where(Payer.code == code.strip().upper())
    query = where_given(query, (Payer.bin, bin_), (Payer.pcn, pcn))
    return await paginate(uow.session, query, order_by=[Payer.code], params=page)


# --- schemes -------------------------------------------------------------------------------------------


async def create_scheme(uow: UnitOfWork, data: SchemeCreate) -> Scheme:
    await get_payer(uow, data.payer_id)
    existing = await uow.session.scalar(
        select(Scheme.id).where(Scheme.payer_id == data.payer_id, Scheme.code == data.code)
    )
    if existing is not None:
        raise SchemeCodeExists(f"The payer has a scheme with code {data.code}.")
    now = uow.now()
    scheme = Scheme(
        payer_id=data.payer_id, code=data.code, name=data.name, status=data.status, created_at=now, updated_at=now
    )
    uow.session.add(scheme)
    try:
        await uow.session.flush()
    except IntegrityError as error:
        if _violates_any(error, SCHEME_CODE):
            raise SchemeCodeExists() from error
        raise
    audit.record(uow, "scheme.create", "scheme", scheme.id)
    return scheme


async def _load_scheme(uow: UnitOfWork, scheme_id: uuid.UUID, *, for_update: bool = False) -> Scheme:
    query = select(Scheme).where(Scheme.id == scheme_id)
    scheme: Scheme = await one_or_raise(uow.session, query, SchemeNotFound, for_update=for_update)
    return scheme


async def get_scheme(uow: UnitOfWork, scheme_id: uuid.UUID) -> Scheme:
    return await _load_scheme(uow, scheme_id)


async def list_schemes(
    uow: UnitOfWork, *, payer_id: uuid.UUID | None, status: SchemeStatus | None, page: PageParams
) -> tuple[list[Scheme], str | None]:
    query = where_given(select(Scheme), (Scheme.payer_id, payer_id), (Scheme.status, status))
    return await paginate(uow.session, query, order_by=[Scheme.code, Scheme.id], params=page)


async def set_scheme_status(
    uow: UnitOfWork, scheme_id: uuid.UUID, target: SchemeStatus, expected_version: int | None
) -> Scheme:
    scheme = await _load_scheme(uow, scheme_id, for_update=True)
    check_version(scheme.version, expected_version)
    if scheme.status == target:
        raise InvalidStatusTransition(f"The scheme is already {target}.")
    now = uow.now()
    scheme.status = target
    scheme.updated_at = now
    await uow.session.flush()
    if target == SchemeStatus.SUSPENDED:
        uow.publish(SchemeSuspended(scheme_id=scheme.id, payer_id=scheme.payer_id, suspended_at=now))
    else:
        uow.publish(SchemeActivated(scheme_id=scheme.id, payer_id=scheme.payer_id, activated_at=now))
    audit.record(uow, f"scheme.{'suspend' if target == SchemeStatus.SUSPENDED else 'activate'}", "scheme", scheme.id)
    return scheme


# --- benefits ------------------------------------------------------------------------------------------


async def create_benefit(uow: UnitOfWork, scheme_id: uuid.UUID, data: BenefitCreate) -> Benefit:
    await _load_scheme(uow, scheme_id)
    taken = await uow.session.scalar(
        select(Benefit.id).where(Benefit.scheme_id == scheme_id, Benefit.category == data.category)
    )
    if taken is not None:
        raise BenefitExists(f"The scheme has a {data.category} benefit.")
    benefit = Benefit(scheme_id=scheme_id, created_at=uow.now(), **data.model_dump())
    uow.session.add(benefit)
    try:
        await uow.session.flush()
    except IntegrityError as error:
        if _violates_any(error, BENEFIT_CATEGORY):
            raise BenefitExists() from error
        raise
    audit.record(uow, "benefit.create", "benefit", benefit.id)
    return benefit


async def list_benefits(uow: UnitOfWork, scheme_id: uuid.UUID, page: PageParams) -> tuple[list[Benefit], str | None]:
    await _load_scheme(uow, scheme_id)
    query = select(Benefit).where(Benefit.scheme_id == scheme_id)
    return await paginate(uow.session, query, order_by=[Benefit.category], params=page)


# --- premium rates -------------------------------------------------------------------------------------


async def create_premium_rate(uow: UnitOfWork, scheme_id: uuid.UUID, data: PremiumRateCreate) -> PremiumRate:
    """Decided under the scheme's row lock: concurrent creates of one scheme run one after the other, so two
    overlapping bands cannot both pass the check."""
    await _load_scheme(uow, scheme_id, for_update=True)
    query = select(PremiumRate).where(
        PremiumRate.scheme_id == scheme_id, or_(PremiumRate.max_age.is_(None), PremiumRate.max_age >= data.min_age)
    )
    if data.max_age is not None:
        query = query.where(PremiumRate.min_age <= data.max_age)
    clash = await uow.session.scalar(query.limit(1))
    if clash is not None:
        ages = f"{clash.min_age}-{clash.max_age}" if clash.max_age is not None else f"{clash.min_age} and over"
        raise PremiumRateOverlap(
            f"Ages {ages} already have a rate.",
            extra={"conflicting_rate_id": str(clash.id)},
        )
    rate = PremiumRate(scheme_id=scheme_id, created_at=uow.now(), **data.model_dump())
    uow.session.add(rate)
    await uow.session.flush()
    audit.record(uow, "premium_rate.create", "premium_rate", rate.id)
    return rate


async def list_premium_rates(
    uow: UnitOfWork, scheme_id: uuid.UUID, page: PageParams
) -> tuple[list[PremiumRate], str | None]:
    await _load_scheme(uow, scheme_id)
    query = select(PremiumRate).where(PremiumRate.scheme_id == scheme_id)
    return await paginate(uow.session, query, order_by=[PremiumRate.min_age, PremiumRate.id], params=page)


@dataclass(frozen=True)
class Quote:
    on: date
    age: int
    rate: PremiumRate


async def premium_quote(uow: UnitOfWork, scheme_id: uuid.UUID, date_of_birth: date) -> Quote:
    await _load_scheme(uow, scheme_id)
    today = clinic_date(uow.now())
    if date_of_birth > today:
        raise invalid_field("date_of_birth", "must not be in the future")
    age = domain.age_on(date_of_birth, today)
    rate = await uow.session.scalar(
        select(PremiumRate).where(
            PremiumRate.scheme_id == scheme_id,
            PremiumRate.min_age <= age,
            or_(PremiumRate.max_age.is_(None), PremiumRate.max_age >= age),
        )
    )
    if rate is None:
        raise NoPremiumRate(f"No premium rate of the scheme covers age {age}.")
    return Quote(on=today, age=age, rate=rate)


# --- coverages -----------------------------------------------------------------------------------------


def coverage_created(coverage: Coverage) -> CoverageCreated:
    return CoverageCreated(
        coverage_id=coverage.id,
        patient_id=coverage.patient_id,
        scheme_id=coverage.scheme_id,
        payer_id=coverage.payer_id,
        valid_from=coverage.valid_from,
        valid_to=coverage.valid_to,
        created_at=coverage.created_at,
    )


async def create_coverage(uow: UnitOfWork, data: CoverageCreate) -> Coverage:
    if await patients.find_patient(uow.session, data.patient_id, lock=True) is None:
        raise PatientNotFound()
    scheme = await _load_scheme(uow, data.scheme_id)
    taken = await uow.session.scalar(
        select(Coverage.id).where(Coverage.payer_id == scheme.payer_id, Coverage.member_id == data.member_id)
    )
    if taken is not None:
        raise MemberIdExists(f"The payer has a coverage with member id {data.member_id}.")
    now = uow.now()
    coverage = Coverage(
        patient_id=data.patient_id,
        scheme_id=scheme.id,
        payer_id=scheme.payer_id,
        member_id=data.member_id,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        status=data.status,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(coverage)
    try:
        await uow.session.flush()
    except IntegrityError as error:
        if _violates_any(error, MEMBER_ID):
            raise MemberIdExists() from error
        raise
    uow.publish(coverage_created(coverage))
    audit.record(uow, "coverage.create", "coverage", coverage.id)
    return coverage


async def _load_coverage(uow: UnitOfWork, coverage_id: uuid.UUID, *, for_update: bool = False) -> Coverage:
    query = _visible_coverages(uow, select(Coverage).where(Coverage.id == coverage_id))
    coverage: Coverage = await one_or_raise(uow.session, query, CoverageNotFound, for_update=for_update)
    return coverage


async def get_coverage(uow: UnitOfWork, coverage_id: uuid.UUID) -> Coverage:
    coverage = await _load_coverage(uow, coverage_id)
    audit.record(uow, "coverage.read", "coverage", coverage.id)
    return coverage


async def list_coverages(
    uow: UnitOfWork,
    *,
    patient_id: uuid.UUID | None,
    scheme_id: uuid.UUID | None,
    member_id: str | None,
    status: CoverageStatus | None,
    page: PageParams,
) -> tuple[list[Coverage], str | None]:
    query = where_given(
        _visible_coverages(uow, select(Coverage)),
        (Coverage.patient_id, patient_id),
        (Coverage.scheme_id, scheme_id),
        (Coverage.member_id, member_id),
        (Coverage.status, status),
    )
    rows, cursor = await paginate(uow.session, query, order_by=[Coverage.created_at, Coverage.id], params=page)
    audit.record(uow, "coverage.list", "coverage", None)
    for coverage in rows:
        audit.record(uow, "coverage.list_read", "coverage", coverage.id)
    return rows, cursor


async def deactivate_coverage(uow: UnitOfWork, coverage_id: uuid.UUID, expected_version: int | None) -> Coverage:
    coverage = await _load_coverage(uow, coverage_id, for_update=True)
    check_version(coverage.version, expected_version)
    if coverage.status == CoverageStatus.INACTIVE:
        raise InvalidStatusTransition("The coverage is already inactive.")
    coverage.status = CoverageStatus.INACTIVE
    coverage.updated_at = uow.now()
    await uow.session.flush()
    audit.record(uow, "coverage.deactivate", "coverage", coverage.id)
    return coverage


async def check_member(uow: UnitOfWork, member_id: str) -> tuple[date, list[Coverage]]:
    """The member's coverages that apply today at the clinic (active, within dates, scheme active)."""
    today = clinic_date(uow.now())
    query = _visible_coverages(
        uow,
        select(Coverage)
        .join(Scheme, Scheme.id == Coverage.scheme_id)
        .where(Coverage.member_id == member_id, *_applies_on(today)),
    )
    rows = list((await uow.session.scalars(query.order_by(Coverage.created_at, Coverage.id))).all())
    audit.record(uow, "coverage.check", "coverage", None)
    return today, rows


def _applies_on(on: date) -> tuple[Any, ...]:
    return (
        Coverage.status == CoverageStatus.ACTIVE,
        Coverage.valid_from <= on,
        or_(Coverage.valid_to.is_(None), Coverage.valid_to >= on),
        Scheme.status == SchemeStatus.ACTIVE,
    )


# --- pre-authorisations ----------------------------------------------------------------------------------


async def create_preauthorization(uow: UnitOfWork, data: PreauthorizationCreate) -> Preauthorization:
    await _load_coverage(uow, data.coverage_id)
    preauth = Preauthorization(status="approved", created_at=uow.now(), **data.model_dump())
    uow.session.add(preauth)
    await uow.session.flush()
    audit.record(uow, "preauthorization.create", "preauthorization", preauth.id)
    return preauth


async def list_preauthorizations(
    uow: UnitOfWork, *, coverage_id: uuid.UUID | None, category: str | None, page: PageParams
) -> tuple[list[Preauthorization], str | None]:
    query = where_given(
        _visible_coverages(uow, select(Preauthorization).join(Coverage, Coverage.id == Preauthorization.coverage_id)),
        (Preauthorization.coverage_id, coverage_id),
        (Preauthorization.category, category),
    )
    rows, cursor = await paginate(
        uow.session, query, order_by=[Preauthorization.created_at, Preauthorization.id], params=page
    )
    audit.record(uow, "preauthorization.list", "preauthorization", None)
    return rows, cursor


async def get_preauthorization(uow: UnitOfWork, preauth_id: uuid.UUID) -> Preauthorization:
    query = _visible_coverages(
        uow,
        select(Preauthorization)
        .join(Coverage, Coverage.id == Preauthorization.coverage_id)
        .where(Preauthorization.id == preauth_id),
    )
    preauth: Preauthorization = await one_or_raise(uow.session, query, PreauthorizationNotFound)
    audit.record(uow, "preauthorization.read", "preauthorization", preauth.id)
    return preauth


# --- verification ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    coverage_id: uuid.UUID | None
    split: domain.Split
    requires_preauth: bool


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


async def _benefit(session: AsyncSession, scheme_id: uuid.UUID, category: str) -> Benefit | None:
    return await session.scalar(select(Benefit).where(Benefit.scheme_id == scheme_id, Benefit.category == category))


def _terms(benefit: Benefit) -> domain.BenefitTerms:
    return domain.BenefitTerms(
        coverage_percent=benefit.coverage_percent,
        copay_amount=benefit.copay_amount,
        deductible=benefit.deductible,
        annual_limit=benefit.annual_limit,
        requires_preauth=benefit.requires_preauth,
    )


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
    benefit = await _benefit(session, coverage.scheme_id, category)
    if benefit is None:
        return Assessment(coverage.id, domain.split(amount, None, domain.Usage(), preauthorised=False), False)
    usage = await _usage(session, coverage.id, category, service_date)
    preauthorised = benefit.requires_preauth and await _preauthorised(
        session, coverage.id, category, service_date, money(amount)
    )
    split = domain.split(amount, _terms(benefit), usage, preauthorised=preauthorised)
    return Assessment(coverage.id, split, benefit.requires_preauth)


@dataclass(frozen=True)
class LinesAssessment:
    coverage_id: uuid.UUID | None
    requires_preauth: bool
    lines: tuple[domain.Split, ...]
    limit_reductions: tuple[Decimal, ...]  # per line: what the annual limit took off the payer's share


async def assess_lines(
    uow: UnitOfWork,
    coverage_id: uuid.UUID,
    category: str,
    service_date: date,
    charges: Sequence[Decimal],
    caps: Sequence[Decimal],
) -> LinesAssessment:
    """Adjudicate a claim's lines against its coverage, in order, each line's deductible and payer amount counting
    against the next; the payer never pays more than the line's cap. The coverage stays row-locked until the
    caller's transaction ends, so claims of one coverage are adjudicated one after the other."""
    query = select(Coverage).where(Coverage.id == coverage_id)
    coverage: Coverage = await one_or_raise(uow.session, query, CoverageNotFound, for_update=True)
    nothing = tuple(ZERO for _ in charges)
    scheme_status = await uow.session.scalar(select(Scheme.status).where(Scheme.id == coverage.scheme_id))
    facts = domain.CoverageFacts(coverage.id, coverage.status, coverage.valid_from, coverage.valid_to, scheme_status)
    problems = domain.coverage_problems(facts, service_date)
    if problems:
        return LinesAssessment(coverage.id, False, tuple(domain.not_eligible(c, problems) for c in charges), nothing)
    benefit = await _benefit(uow.session, coverage.scheme_id, category)
    if benefit is None:
        refused = tuple(domain.not_eligible(c, (domain.Reason.NOT_COVERED,)) for c in charges)
        return LinesAssessment(coverage.id, False, refused, nothing)
    row = await uow.session.scalar(
        _accumulator_query(coverage.id, category, domain.benefit_year(service_date)).execution_options(
            populate_existing=True
        )
    )
    usage = domain.Usage() if row is None else domain.Usage(row.deductible_met, row.limit_used)
    total = money(sum(charges, Decimal(0)))
    preauthorised = benefit.requires_preauth and await _preauthorised(
        uow.session, coverage.id, category, service_date, total
    )
    terms = _terms(benefit)
    splits: list[domain.Split] = []
    reductions: list[Decimal] = []
    for charge, cap in zip(charges, caps, strict=True):
        split = domain.split(charge, terms, usage, preauthorised=preauthorised)
        unlimited = money(
            (money(charge) - split.deductible_applied - split.copay_applied) * terms.coverage_percent / 100
        )
        reductions.append(max(ZERO, unlimited - split.payer_amount) if split.eligible else ZERO)
        payer = min(split.payer_amount, money(cap))
        split = replace(
            split, payer_amount=payer, patient_amount=money(split.patient_amount + split.payer_amount - payer)
        )
        usage = domain.Usage(money(usage.deductible_met + split.deductible_applied), money(usage.limit_used + payer))
        splits.append(split)
    return LinesAssessment(coverage.id, benefit.requires_preauth, tuple(splits), tuple(reductions))


async def verify(uow: UnitOfWork, patient_id: uuid.UUID, category: str, amount: Decimal, on: date) -> Assessment:
    if not _may_see(uow, patient_id) or await patients.find_patient(uow.session, patient_id) is None:
        raise PatientNotFound()
    assessment = await assess(uow.session, patient_id, category, _amount("amount", amount), on)
    audit.record(uow, "coverage.verify", "patient", patient_id)
    return assessment


async def coverage_percent(session: AsyncSession, patient_id: uuid.UUID, category: str, on: date) -> Decimal | None:
    facts = await _coverage_facts(session, patient_id)
    if not facts:
        return None
    chosen, _ = domain.pick_coverage([f for f, _ in facts], on)
    if chosen is None:
        return Decimal("0.00")
    coverage = next(c for f, c in facts if f.id == chosen.id)
    benefit = await _benefit(session, coverage.scheme_id, category)
    return Decimal("0.00") if benefit is None else benefit.coverage_percent


# --- accumulators ----------------------------------------------------------------------------------------


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
