"""Benefits and their dated terms: what a scheme pays for a category, changed from an `effective_from` date on.

A benefit (scheme, category) keeps its identity; its terms live in `insurance_benefit_terms`, one row per date.
A service is judged by the terms in force on its date (`domain.terms_on`): the latest on or before it, the first
terms for the dates before them. A change never overwrites the terms of another date; new terms for a date that
already has terms replace those (a correction, kept in the audit trail). A change touches no accumulator: each
claim recorded brings its service date's deductible and limit (see accumulators.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.audit import contract as audit
from caremesh.insurance import domain
from caremesh.insurance.errors import BenefitExists, BenefitNotFound
from caremesh.insurance.models import BENEFIT_CATEGORY, Benefit, BenefitTerms
from caremesh.insurance.repository import BENEFITS, SCHEMES
from caremesh.insurance.schemas import TERMS, BenefitCreate, BenefitUpdate
from caremesh.platform.db import violates
from caremesh.platform.errors import check_version
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.schemas import changes_of
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork


@dataclass(frozen=True)
class BenefitInForce:
    """A benefit seen with the terms in force on a date (and the clinic's currency), for its read model."""

    benefit: Benefit
    terms: BenefitTerms
    currency: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.terms if name in TERMS or name == "effective_from" else self.benefit, name)

    @property
    def version(self) -> int:
        return self.benefit.version


def terms_of(row: BenefitTerms) -> domain.BenefitTerms:
    return domain.BenefitTerms(**{name: getattr(row, name) for name in TERMS})


def _in_force(history: list[BenefitTerms], on: date) -> BenefitTerms:
    picked = domain.terms_on((domain.DatedTerms(row.effective_from, terms_of(row)) for row in history), on)
    assert picked is not None, "a benefit always has terms"
    return next(row for row in history if row.effective_from == picked.effective_from)


async def _history(session: AsyncSession, benefit_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[BenefitTerms]]:
    rows = await session.scalars(
        select(BenefitTerms)
        .where(BenefitTerms.benefit_id.in_(benefit_ids))
        .order_by(BenefitTerms.benefit_id, BenefitTerms.effective_from)
        .execution_options(populate_existing=True)
    )
    history: dict[uuid.UUID, list[BenefitTerms]] = {benefit_id: [] for benefit_id in benefit_ids}
    for row in rows:
        history[row.benefit_id].append(row)
    return history


async def terms_in_force(
    session: AsyncSession, scheme_id: uuid.UUID, category: str, on: date
) -> domain.BenefitTerms | None:
    """The scheme's terms for `category` on `on`; None when the scheme has no benefit for it."""
    rows = await session.scalars(
        select(BenefitTerms)
        .join(Benefit, Benefit.id == BenefitTerms.benefit_id)
        .where(Benefit.scheme_id == scheme_id, Benefit.category == category)
    )
    picked = domain.terms_on((domain.DatedTerms(row.effective_from, terms_of(row)) for row in rows), on)
    return None if picked is None else picked.terms


def _today(uow: UnitOfWork) -> date:
    return clinic_date(uow.now())


def _recorder(uow: UnitOfWork) -> uuid.UUID | None:
    return uow.actor.user_id if uow.actor is not None else None


async def create_benefit(uow: UnitOfWork, scheme_id: uuid.UUID, data: BenefitCreate) -> BenefitInForce:
    await SCHEMES.load(uow, scheme_id)
    taken = await uow.session.scalar(
        select(Benefit.id).where(Benefit.scheme_id == scheme_id, Benefit.category == data.category)
    )
    if taken is not None:
        raise BenefitExists(f"The scheme has a {data.category} benefit.")
    now = uow.now()
    benefit = Benefit(scheme_id=scheme_id, category=data.category, created_at=now, updated_at=now)
    uow.session.add(benefit)
    try:
        await uow.session.flush()
    except IntegrityError as error:
        if any(violates(error, name) for name in BENEFIT_CATEGORY):
            raise BenefitExists() from error
        raise
    terms = BenefitTerms(
        benefit_id=benefit.id,
        effective_from=data.effective_from or _today(uow),
        recorded_at=now,
        recorded_by=_recorder(uow),
        **data.model_dump(include=set(TERMS)),
    )
    uow.session.add(terms)
    await uow.session.flush()
    audit.record(uow, "benefit.create", "benefit", benefit.id)
    return BenefitInForce(benefit, terms, uow.settings.app.currency)


async def _load(
    uow: UnitOfWork, scheme_id: uuid.UUID, benefit_id: uuid.UUID, *, lock: bool = False, version: int | None = None
) -> Benefit:
    """The scheme's benefit (404 for another scheme's); `lock`: locked, re-read and checked against If-Match."""
    await SCHEMES.load(uow, scheme_id)
    benefit = await BENEFITS.find(uow, benefit_id, for_update=lock)
    if benefit is None or benefit.scheme_id != scheme_id:
        raise BenefitNotFound()
    if lock:
        check_version(benefit.version, version)
    return benefit


async def get_benefit(uow: UnitOfWork, scheme_id: uuid.UUID, benefit_id: uuid.UUID) -> BenefitInForce:
    benefit = await _load(uow, scheme_id, benefit_id)
    history = (await _history(uow.session, [benefit.id]))[benefit.id]
    return BenefitInForce(benefit, _in_force(history, _today(uow)), uow.settings.app.currency)


async def list_benefits(
    uow: UnitOfWork, scheme_id: uuid.UUID, page: PageParams
) -> tuple[list[BenefitInForce], str | None]:
    """One page of the scheme's benefits, each with the terms in force today."""
    await SCHEMES.load(uow, scheme_id)
    query = select(Benefit).where(Benefit.scheme_id == scheme_id)
    rows, cursor = await paginate(uow.session, query, order_by=[Benefit.category], params=page)
    history = await _history(uow.session, [row.id for row in rows])
    today, currency = _today(uow), uow.settings.app.currency
    return [BenefitInForce(row, _in_force(history[row.id], today), currency) for row in rows], cursor


async def benefit_history(
    uow: UnitOfWork, scheme_id: uuid.UUID, benefit_id: uuid.UUID, page: PageParams
) -> tuple[list[BenefitTerms], str | None]:
    """Every set of terms the benefit has had, oldest date first."""
    benefit = await _load(uow, scheme_id, benefit_id)
    query = select(BenefitTerms).where(BenefitTerms.benefit_id == benefit.id)
    return await paginate(uow.session, query, order_by=[BenefitTerms.effective_from], params=page)


async def update_benefit(
    uow: UnitOfWork, scheme_id: uuid.UUID, benefit_id: uuid.UUID, data: BenefitUpdate, expected_version: int | None
) -> BenefitInForce:
    """New terms from `effective_from` (default today) on, the fields not sent as they were on that date. Under
    the benefit's row lock, so concurrent changes of one benefit run one after the other."""
    benefit = await _load(uow, scheme_id, benefit_id, version=expected_version, lock=True)
    changes = changes_of(data)
    effective_from: date = changes.pop("effective_from", None) or _today(uow)
    history = (await _history(uow.session, [benefit.id]))[benefit.id]
    base = _in_force(history, effective_from)
    values = {name: getattr(base, name) for name in TERMS} | changes
    changed = [name for name in TERMS if values[name] != getattr(base, name)]
    same_date = base if base.effective_from == effective_from else None
    if changed:
        if same_date is None:
            same_date = BenefitTerms(benefit_id=benefit.id, effective_from=effective_from)
            uow.session.add(same_date)
        for name in TERMS:
            setattr(same_date, name, values[name])
        same_date.recorded_at, same_date.recorded_by = uow.now(), _recorder(uow)
    await BENEFITS.updated(uow, benefit, changed)
    history = (await _history(uow.session, [benefit.id]))[benefit.id]
    return BenefitInForce(benefit, _in_force(history, _today(uow)), uow.settings.app.currency)
