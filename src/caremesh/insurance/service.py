"""Insurance use cases: payers, schemes, benefits, premium rates, coverages and pre-authorisations.

Verification is in verification.py, the accumulators claims move in accumulators.py, the errors in errors.py.

Every use case takes the unit of work and flushes; the entrypoint commits. Uniqueness (payer code, BIN/PCN,
benefit per category, member id per payer) is the database's; a lost race surfaces as the same 409 as the check.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.audit import contract as audit
from caremesh.insurance import domain
from caremesh.insurance.domain import CoverageStatus, SchemeStatus
from caremesh.insurance.errors import (
    BenefitExists,
    InvalidStatusTransition,
    MemberIdExists,
    NoPremiumRate,
    PayerBinPcnExists,
    PayerCodeExists,
    PremiumRateOverlap,
    SchemeCodeExists,
)
from caremesh.insurance.events import CoverageCreated, SchemeActivated, SchemeSuspended
from caremesh.insurance.models import (
    BENEFIT_CATEGORY,
    MEMBER_ID,
    PAYER_BIN_PCN,
    PAYER_CODE,
    SCHEME_CODE,
    Benefit,
    Coverage,
    Payer,
    Preauthorization,
    PremiumRate,
    Scheme,
)
from caremesh.insurance.repository import COVERAGES, PAYERS, PREAUTHORIZATIONS, SCHEMES
from caremesh.insurance.schemas import (
    BenefitCreate,
    CoverageCreate,
    PayerCreate,
    PayerFilters,
    PreauthorizationCreate,
    PreauthorizationFilters,
    PremiumRateCreate,
    SchemeCreate,
)
from caremesh.patients import contract as patients
from caremesh.platform.db import violates
from caremesh.platform.errors import DomainError, invalid_field
from caremesh.platform.mapping import from_attributes
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

RowT = TypeVar("RowT", Benefit, PremiumRate)

# --- helpers -------------------------------------------------------------------------------------------


async def _insert(uow: UnitOfWork, row: object, *unique: tuple[Iterable[str], type[DomainError]]) -> None:
    """Add and flush `row`; a lost race for one of its unique constraints (the names its errors carry) surfaces as
    that constraint's 409, the same as the check before it."""
    uow.session.add(row)
    try:
        await uow.session.flush()
    except IntegrityError as error:
        for names, conflict in unique:
            if any(violates(error, name) for name in names):
                raise conflict() from error
        raise


async def _of_scheme(
    uow: UnitOfWork, scheme_id: uuid.UUID, model: type[RowT], order_by: list[Any], page: PageParams
) -> tuple[list[RowT], str | None]:
    """One page of the scheme's benefits or premium rates; an unknown scheme is a 404."""
    await SCHEMES.load(uow, scheme_id)
    query = select(model).where(model.scheme_id == scheme_id)  # type: ignore[attr-defined]
    return await paginate(uow.session, query, order_by=order_by, params=page)


# --- payers --------------------------------------------------------------------------------------------


async def create_payer(uow: UnitOfWork, data: PayerCreate) -> Payer:
    if await uow.session.scalar(select(Payer.id).where(Payer.code == data.code)) is not None:
        raise PayerCodeExists(f"A payer with code {data.code} exists.")
    if data.bin is not None and await _payer_by_bin_pcn(uow.session, data.bin, data.pcn) is not None:
        raise PayerBinPcnExists()
    payer = Payer(code=data.code, name=data.name, bin=data.bin, pcn=data.pcn, created_at=uow.now())
    await _insert(uow, payer, (PAYER_CODE, PayerCodeExists), (PAYER_BIN_PCN, PayerBinPcnExists))
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


# Reads are the repositories' own (`load`: a 404 when missing; `get`: also audited), under the API's names.
get_payer = PAYERS.load


async def list_payers(uow: UnitOfWork, filters: PayerFilters, page: PageParams) -> tuple[list[Payer], str | None]:
    """`bin` with `pcn` resolves like a patient's card (see `resolve_payer`); otherwise plain filters."""
    if filters.bin is not None and filters.pcn is not None:
        payer = await resolve_payer(uow.session, filters.bin, filters.pcn)
        return ([payer] if payer is not None and filters.code in (None, payer.code) else []), None
    return await PAYERS.list(uow, filters, page)


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
    await _insert(uow, scheme, (SCHEME_CODE, SchemeCodeExists))
    audit.record(uow, "scheme.create", "scheme", scheme.id)
    return scheme


get_scheme = SCHEMES.load
list_schemes = SCHEMES.list


async def set_scheme_status(
    uow: UnitOfWork, scheme_id: uuid.UUID, target: SchemeStatus, expected_version: int | None
) -> Scheme:
    scheme = await SCHEMES.load_version(uow, scheme_id, expected_version)
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
    await SCHEMES.load(uow, scheme_id)
    taken = await uow.session.scalar(
        select(Benefit.id).where(Benefit.scheme_id == scheme_id, Benefit.category == data.category)
    )
    if taken is not None:
        raise BenefitExists(f"The scheme has a {data.category} benefit.")
    benefit = Benefit(scheme_id=scheme_id, created_at=uow.now(), **data.model_dump())
    await _insert(uow, benefit, (BENEFIT_CATEGORY, BenefitExists))
    audit.record(uow, "benefit.create", "benefit", benefit.id)
    return benefit


async def list_benefits(uow: UnitOfWork, scheme_id: uuid.UUID, page: PageParams) -> tuple[list[Benefit], str | None]:
    return await _of_scheme(uow, scheme_id, Benefit, [Benefit.category], page)


# --- premium rates -------------------------------------------------------------------------------------


async def create_premium_rate(uow: UnitOfWork, scheme_id: uuid.UUID, data: PremiumRateCreate) -> PremiumRate:
    """Decided under the scheme's row lock: concurrent creates of one scheme run one after the other, so two
    overlapping bands cannot both pass the check."""
    await SCHEMES.load(uow, scheme_id, for_update=True)
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
    await _insert(uow, rate)
    audit.record(uow, "premium_rate.create", "premium_rate", rate.id)
    return rate


async def list_premium_rates(
    uow: UnitOfWork, scheme_id: uuid.UUID, page: PageParams
) -> tuple[list[PremiumRate], str | None]:
    return await _of_scheme(uow, scheme_id, PremiumRate, [PremiumRate.min_age, PremiumRate.id], page)


@dataclass(frozen=True)
class Quote:
    on: date
    age: int
    rate: PremiumRate


async def premium_quote(uow: UnitOfWork, scheme_id: uuid.UUID, date_of_birth: date) -> Quote:
    await SCHEMES.load(uow, scheme_id)
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
    return from_attributes(CoverageCreated, coverage, coverage_id=coverage.id)


async def create_coverage(uow: UnitOfWork, data: CoverageCreate) -> Coverage:
    if await patients.find_patient(uow.session, data.patient_id, lock=True) is None:
        raise patients.PatientNotFound()
    scheme = await SCHEMES.load(uow, data.scheme_id)
    taken = await uow.session.scalar(
        select(Coverage.id).where(Coverage.payer_id == scheme.payer_id, Coverage.member_id == data.member_id)
    )
    if taken is not None:
        raise MemberIdExists(f"The payer has a coverage with member id {data.member_id}.")
    now = uow.now()
    coverage = Coverage(payer_id=scheme.payer_id, created_at=now, updated_at=now, **data.model_dump())
    await _insert(uow, coverage, (MEMBER_ID, MemberIdExists))
    uow.publish(coverage_created(coverage))
    audit.record(uow, "coverage.create", "coverage", coverage.id)
    return coverage


get_coverage = COVERAGES.get
list_coverages = COVERAGES.list


async def deactivate_coverage(uow: UnitOfWork, coverage_id: uuid.UUID, expected_version: int | None) -> Coverage:
    coverage = await COVERAGES.load_version(uow, coverage_id, expected_version)
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
    query = COVERAGES.visible(
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
    await COVERAGES.load(uow, data.coverage_id)
    preauth = Preauthorization(status="approved", created_at=uow.now(), **data.model_dump())
    await _insert(uow, preauth)
    audit.record(uow, "preauthorization.create", "preauthorization", preauth.id)
    return preauth


async def list_preauthorizations(
    uow: UnitOfWork, filters: PreauthorizationFilters, page: PageParams
) -> tuple[list[Preauthorization], str | None]:
    return await PREAUTHORIZATIONS.list(uow, filters, page, record_each=False)


async def get_preauthorization(uow: UnitOfWork, preauth_id: uuid.UUID) -> Preauthorization:
    return await PREAUTHORIZATIONS.get(uow, preauth_id)
