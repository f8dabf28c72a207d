"""Insurance use cases: payers, schemes, premium rates, coverages and pre-authorisations, and their edits.

Benefits and their dated terms are in benefits.py, premium billing in premiums.py, agents and commissions in
agents.py; verification is in verification.py, the accumulators claims move in accumulators.py, the errors in errors.py.

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
    AgentNotFound,
    InvalidStatusTransition,
    MemberIdExists,
    NoPremiumRate,
    PayerBinPcnExists,
    PayerCodeExists,
    PremiumRateNotFound,
    PremiumRateOverlap,
    SchemeCodeExists,
)
from caremesh.insurance.events import CoverageCreated, SchemeActivated, SchemeSuspended
from caremesh.insurance.models import (
    MEMBER_ID,
    PAYER_BIN_PCN,
    PAYER_CODE,
    SCHEME_CODE,
    Agent,
    Coverage,
    Payer,
    Preauthorization,
    PremiumRate,
    Scheme,
)
from caremesh.insurance.repository import AGENTS, COVERAGES, PAYERS, PREAUTHORIZATIONS, PREMIUM_RATES, SCHEMES
from caremesh.insurance.schemas import (
    CoverageCreate,
    CoverageUpdate,
    PayerCreate,
    PayerFilters,
    PayerUpdate,
    PreauthorizationCreate,
    PreauthorizationFilters,
    PremiumRateCreate,
    PremiumRateUpdate,
    SchemeCreate,
    SchemeUpdate,
)
from caremesh.patients import contract as patients
from caremesh.platform.db import violates
from caremesh.platform.errors import DomainError, check_version, invalid_field
from caremesh.platform.mapping import from_attributes
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.schemas import changes_of
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

RowT = TypeVar("RowT", bound=PremiumRate)

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


def patch_changes(row: Any, data: Any) -> dict[str, Any]:
    """What a PATCH body sets to something other than the row has."""
    return {name: value for name, value in changes_of(data).items() if getattr(row, name) != value}


async def apply_patch(
    uow: UnitOfWork,
    repository: Any,
    row: Any,
    changes: dict[str, Any],
    *unique: tuple[Iterable[str], type[DomainError]],
) -> tuple[str, ...]:
    """Set `changes` on `row` and flush (a new version when anything changed); a lost race for one of `unique`
    surfaces as its 409. The changed names."""
    for name, value in changes.items():
        setattr(row, name, value)
    try:
        return tuple(await repository.updated(uow, row, changes))
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
    now = uow.now()
    payer = Payer(code=data.code, name=data.name, bin=data.bin, pcn=data.pcn, created_at=now, updated_at=now)
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


async def update_payer(uow: UnitOfWork, payer_id: uuid.UUID, data: PayerUpdate, expected_version: int | None) -> Payer:
    payer = await PAYERS.load_version(uow, payer_id, expected_version)
    changes = patch_changes(payer, data)
    bin_, pcn = changes.get("bin", payer.bin), changes.get("pcn", payer.pcn)
    if pcn is not None and bin_ is None:
        raise invalid_field("pcn", "a PCN needs a BIN")
    if ("bin" in changes or "pcn" in changes) and bin_ is not None:
        holder = await _payer_by_bin_pcn(uow.session, bin_, pcn)
        if holder is not None and holder.id != payer.id:
            raise PayerBinPcnExists()
    await apply_patch(uow, PAYERS, payer, changes, (PAYER_BIN_PCN, PayerBinPcnExists))
    return payer


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


async def update_scheme(
    uow: UnitOfWork, scheme_id: uuid.UUID, data: SchemeUpdate, expected_version: int | None
) -> Scheme:
    scheme = await SCHEMES.load_version(uow, scheme_id, expected_version)
    changes = patch_changes(scheme, data)
    if "code" in changes:
        taken = await uow.session.scalar(
            select(Scheme.id).where(Scheme.payer_id == scheme.payer_id, Scheme.code == changes["code"])
        )
        if taken is not None:
            raise SchemeCodeExists(f"The payer has a scheme with code {changes['code']}.")
    await apply_patch(uow, SCHEMES, scheme, changes, (SCHEME_CODE, SchemeCodeExists))
    return scheme


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


# --- premium rates -------------------------------------------------------------------------------------


async def _check_band_free(
    uow: UnitOfWork, scheme_id: uuid.UUID, band: domain.AgeBand, rate_id: uuid.UUID | None = None
) -> None:
    """409 when another band of the scheme overlaps `band`. Call it under the scheme's row lock: concurrent writers
    of one scheme's bands then run one after the other, so two overlapping bands cannot both pass."""
    query = select(PremiumRate).where(
        PremiumRate.scheme_id == scheme_id, or_(PremiumRate.max_age.is_(None), PremiumRate.max_age >= band.min_age)
    )
    if band.max_age is not None:
        query = query.where(PremiumRate.min_age <= band.max_age)
    if rate_id is not None:
        query = query.where(PremiumRate.id != rate_id)
    clash = await uow.session.scalar(query.limit(1))
    if clash is not None:
        ages = f"{clash.min_age}-{clash.max_age}" if clash.max_age is not None else f"{clash.min_age} and over"
        raise PremiumRateOverlap(
            f"Ages {ages} already have a rate.",
            extra={"conflicting_rate_id": str(clash.id)},
        )


async def create_premium_rate(uow: UnitOfWork, scheme_id: uuid.UUID, data: PremiumRateCreate) -> PremiumRate:
    await SCHEMES.load(uow, scheme_id, for_update=True)
    await _check_band_free(uow, scheme_id, domain.AgeBand(data.min_age, data.max_age))
    now = uow.now()
    rate = PremiumRate(scheme_id=scheme_id, created_at=now, updated_at=now, **data.model_dump())
    await _insert(uow, rate)
    audit.record(uow, "premium_rate.create", "premium_rate", rate.id)
    return rate


async def _scheme_rate(uow: UnitOfWork, scheme_id: uuid.UUID, rate_id: uuid.UUID, *, lock: bool = False) -> PremiumRate:
    rate = await PREMIUM_RATES.find(uow, rate_id, for_update=lock)
    if rate is None or rate.scheme_id != scheme_id:
        raise PremiumRateNotFound()
    return rate


async def get_premium_rate(uow: UnitOfWork, scheme_id: uuid.UUID, rate_id: uuid.UUID) -> PremiumRate:
    await SCHEMES.load(uow, scheme_id)
    return await _scheme_rate(uow, scheme_id, rate_id)


async def update_premium_rate(
    uow: UnitOfWork, scheme_id: uuid.UUID, rate_id: uuid.UUID, data: PremiumRateUpdate, expected_version: int | None
) -> PremiumRate:
    """Under the scheme's row lock (taken first, as creates take it), like a create."""
    await SCHEMES.load(uow, scheme_id, for_update=True)
    rate = await _scheme_rate(uow, scheme_id, rate_id, lock=True)
    check_version(rate.version, expected_version)
    changes = patch_changes(rate, data)
    band = domain.AgeBand(changes.get("min_age", rate.min_age), changes.get("max_age", rate.max_age))
    if band.max_age is not None and band.max_age < band.min_age:
        raise invalid_field("max_age", "must not be below min_age")
    if "min_age" in changes or "max_age" in changes:
        await _check_band_free(uow, scheme_id, band, rate.id)
    await apply_patch(uow, PREMIUM_RATES, rate, changes)
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
    await _check_member_id_free(uow, scheme.payer_id, data.member_id)
    if data.agent_id is not None:
        await _agent_exists(uow, data.agent_id)
    now = uow.now()
    coverage = Coverage(payer_id=scheme.payer_id, created_at=now, updated_at=now, **data.model_dump())
    await _insert(uow, coverage, (MEMBER_ID, MemberIdExists))
    uow.publish(coverage_created(coverage))
    audit.record(uow, "coverage.create", "coverage", coverage.id)
    return coverage


async def _check_member_id_free(uow: UnitOfWork, payer_id: uuid.UUID, member_id: str) -> None:
    taken = await uow.session.scalar(
        select(Coverage.id).where(Coverage.payer_id == payer_id, Coverage.member_id == member_id)
    )
    if taken is not None:
        raise MemberIdExists(f"The payer has a coverage with member id {member_id}.")


async def _agent_exists(uow: UnitOfWork, agent_id: uuid.UUID) -> Agent:
    """The agent a coverage names (404 AGENT_NOT_FOUND). Agents are never removed: no lock needed."""
    agent = await AGENTS.find(uow, agent_id)
    if agent is None:
        raise AgentNotFound(f"No agent {agent_id}.")
    return agent


get_coverage = COVERAGES.get
list_coverages = COVERAGES.list


async def update_coverage(
    uow: UnitOfWork, coverage_id: uuid.UUID, data: CoverageUpdate, expected_version: int | None
) -> Coverage:
    """Status, dates, member id and agent; the patient and the scheme are the coverage's identity. Premiums already
    billed keep the agent they were billed with."""
    coverage = await COVERAGES.load_version(uow, coverage_id, expected_version)
    changes = patch_changes(coverage, data)
    valid_from = changes.get("valid_from", coverage.valid_from)
    valid_to = changes.get("valid_to", coverage.valid_to)
    if valid_to is not None and valid_to < valid_from:
        raise invalid_field("valid_to", "must not be before valid_from")
    if "member_id" in changes:
        await _check_member_id_free(uow, coverage.payer_id, changes["member_id"])
    if changes.get("agent_id") is not None:
        await _agent_exists(uow, changes["agent_id"])
    await apply_patch(uow, COVERAGES, coverage, changes, (MEMBER_ID, MemberIdExists))
    return coverage


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
        .where(Coverage.member_id == member_id, *applies_on(today)),
    )
    rows = list((await uow.session.scalars(query.order_by(Coverage.created_at, Coverage.id))).all())
    audit.record(uow, "coverage.check", "coverage", None)
    return today, rows


def applies_on(on: date) -> tuple[Any, ...]:
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
