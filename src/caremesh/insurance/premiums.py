"""Premium billing: once a month every coverage in force on the month's first day is billed its premium.

A run bills each coverage that is active, whose dates include the period's first day and whose scheme is active
on the day it runs, at its scheme's rate for the member's age on that first day. `insurance_premium_billings` holds
one row per (coverage, period), unique in the database: the row is inserted with ON CONFLICT DO NOTHING and only a
row this run inserted is announced (`premium.billed`, which billing answers with a premium invoice). Two runs at
once, or one run again, bill each coverage once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import structlog
from sqlalchemy import select

from caremesh.audit import contract as audit
from caremesh.billing.contract import InvoiceIssued
from caremesh.insurance import domain
from caremesh.insurance.events import PremiumBilled
from caremesh.insurance.models import Agent, Coverage, PremiumBilling, PremiumRate, Scheme
from caremesh.insurance.repository import PREMIUM_BILLINGS
from caremesh.insurance.schemas import PremiumBillingFilters
from caremesh.insurance.service import applies_on
from caremesh.patients import contract as patients
from caremesh.platform.db import dialect_insert
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.pagination import PageParams
from caremesh.platform.uow import UnitOfWork

log = structlog.get_logger("caremesh.insurance")

ALREADY_BILLED, NO_PREMIUM_RATE, PATIENT_NOT_FOUND = "ALREADY_BILLED", "NO_PREMIUM_RATE", "PATIENT_NOT_FOUND"


@dataclass
class PremiumRun:
    period: str
    issued: int = 0
    skipped_reasons: list[tuple[uuid.UUID, str]] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.skipped_reasons)


async def _rates(uow: UnitOfWork, scheme_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[PremiumRate]]:
    rates: dict[uuid.UUID, list[PremiumRate]] = defaultdict(list)
    for rate in await uow.session.scalars(select(PremiumRate).where(PremiumRate.scheme_id.in_(scheme_ids))):
        rates[rate.scheme_id].append(rate)
    return rates


def _rate_for(rates: list[PremiumRate], age: int) -> PremiumRate | None:
    return next((r for r in rates if domain.AgeBand(r.min_age, r.max_age).covers(age)), None)


async def run_premiums(uow: UnitOfWork, period: str) -> PremiumRun:
    """Bill `period` (YYYY-MM) for every coverage in force on its first day that has not been billed for it."""
    first = domain.period_start(period)
    in_force = (
        await uow.session.execute(
            select(Coverage, Scheme.name)
            .join(Scheme, Scheme.id == Coverage.scheme_id)
            .where(*applies_on(first))
            .order_by(Coverage.id)  # concurrent runs insert in one order: they wait for each other, never deadlock
        )
    ).all()
    billed = set(await uow.session.scalars(select(PremiumBilling.coverage_id).where(PremiumBilling.period == period)))
    rates = await _rates(uow, {coverage.scheme_id for coverage, _ in in_force})
    agent_ids = {coverage.agent_id for coverage, _ in in_force if coverage.agent_id is not None}
    agents = await uow.session.execute(select(Agent.id, Agent.commission_percent).where(Agent.id.in_(agent_ids)))
    percents = {agent_id: percent for agent_id, percent in agents}
    run = PremiumRun(period)
    currency, now = uow.settings.app.currency, uow.now()
    for coverage, scheme_name in in_force:
        if coverage.id in billed:
            run.skipped_reasons.append((coverage.id, ALREADY_BILLED))
            continue
        patient = await patients.find_patient(uow.session, coverage.patient_id)
        if patient is None:
            run.skipped_reasons.append((coverage.id, PATIENT_NOT_FOUND))
            continue
        age = domain.age_on(patient.date_of_birth, first)
        rate = _rate_for(rates[coverage.scheme_id], age)
        if rate is None:
            run.skipped_reasons.append((coverage.id, NO_PREMIUM_RATE))
            continue
        row = {
            "id": uuid.uuid4(),
            "coverage_id": coverage.id,
            "period": period,
            "patient_id": coverage.patient_id,
            "scheme_id": coverage.scheme_id,
            "premium_rate_id": rate.id,
            "age": age,
            "amount": rate.monthly_premium,
            "currency": currency,
            "agent_id": coverage.agent_id,
            "commission_percent": percents.get(coverage.agent_id) if coverage.agent_id is not None else None,
            "invoice_id": None,
            "billed_at": now,
        }
        inserted = await uow.session.scalar(
            dialect_insert(uow.session)(PremiumBilling)
            .values(row)
            .on_conflict_do_nothing(index_elements=["coverage_id", "period"])
            .returning(PremiumBilling.id)
        )
        if inserted is None:  # a concurrent run billed it first
            run.skipped_reasons.append((coverage.id, ALREADY_BILLED))
            continue
        run.issued += 1
        uow.publish(
            PremiumBilled(
                premium_billing_id=inserted,
                coverage_id=coverage.id,
                patient_id=coverage.patient_id,
                scheme_id=coverage.scheme_id,
                agent_id=coverage.agent_id,
                period=period,
                amount=rate.monthly_premium,
                currency=currency,
                description=f"Premium {period}, {scheme_name} (member {coverage.member_id})",
                billed_at=now,
            )
        )
        audit.record(uow, "premium_billing.create", "premium_billing", inserted)
    return run


async def list_premium_billings(
    uow: UnitOfWork, filters: PremiumBillingFilters, page: PageParams
) -> tuple[list[PremiumBilling], str | None]:
    return await PREMIUM_BILLINGS.list(uow, filters, page)


async def record_premium_invoice(uow: UnitOfWork, event: InvoiceIssued, envelope: Envelope) -> None:
    """Billing issued the invoice of a premium: the premium billing remembers it (an invoice.paid that came first
    may have done so already)."""
    if event.premium_billing_id is None:
        return
    billing = await uow.session.get(PremiumBilling, event.premium_billing_id, with_for_update=True)
    if billing is None:
        log.warning("premium_invoice_unknown_billing", premium_billing_id=str(event.premium_billing_id))
        return
    link_invoice(billing, event.invoice_id)
    await uow.session.flush()


def link_invoice(billing: PremiumBilling, invoice_id: uuid.UUID) -> None:
    if billing.invoice_id is None:
        billing.invoice_id = invoice_id
    elif billing.invoice_id != invoice_id:
        log.warning(
            "premium_billing_second_invoice",
            premium_billing_id=str(billing.id),
            invoice_id=str(billing.invoice_id),
            other_invoice_id=str(invoice_id),
        )
