"""Invoice lines for a visit's procedures: each a `procedure` tariff whose code is the record's CPT/HCPCS code,
quantity × its price, remembering the record it bills (`source_record_id`, unique in the database).

Shared by the visit's invoice (issued with the procedures already recorded) and by the consumer of the records'
events (procedures recorded later: `procedures.py`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import structlog
from sqlalchemy import select, text

from caremesh.billing import domain
from caremesh.billing.domain import Kind
from caremesh.billing.errors import NoApplicableTariff
from caremesh.billing.models import InvoiceLine, Tariff
from caremesh.billing.tariffs import _pricing
from caremesh.platform.uow import UnitOfWork
from caremesh.practitioners import contract as practitioners
from caremesh.records import contract as records

log = structlog.get_logger("caremesh.billing")

# An hourly tariff prices a procedure by the unit: one unit is one "hour" of its rate.
_ONE_UNIT = datetime(2000, 1, 1, tzinfo=UTC)


async def procedure_tariff(uow: UnitOfWork, code: str) -> Tariff | None:
    """The `procedure` tariff whose code is `code` (CPT/HCPCS, any case), or None."""
    return await uow.session.scalar(select(Tariff).where(Tariff.code == code.upper(), Tariff.kind == Kind.PROCEDURE))


async def serialise_visit(uow: UnitOfWork, appointment_id: uuid.UUID) -> None:
    """Billing of one visit takes turns (PostgreSQL; SQLite's writes take turns already): issuing its invoice and
    billing a procedure recorded meanwhile never both miss the procedure, and concurrent procedures of the visit
    extend its invoice one after the other."""
    if uow.session.bind.dialect.name == "postgresql":
        await uow.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"billing.visit:{appointment_id}"}
        )


async def price(
    uow: UnitOfWork, entry: records.CodedEntry, practitioner_id: uuid.UUID | None, service_date: date
) -> tuple[Tariff, domain.Charge] | None:
    """The tariff and charge (quantity × unit price) of a procedure entry; None (logged) when no tariff prices it
    (records refuses such an entry, so only a tariff changed meanwhile gets here)."""
    tariff = await procedure_tariff(uow, entry.code)
    if tariff is None:
        log.warning("procedure_not_billed", record_id=str(entry.id), code=entry.code, reason="no procedure tariff")
        return None
    years = 0
    if practitioner_id is not None:
        practitioner = await practitioners.find_practitioner(uow.session, practitioner_id)
        years = practitioners.experience_years(practitioner, service_date) if practitioner else 0
    try:
        unit = domain.charge(_pricing(tariff), experience_years=years, started_at=_ONE_UNIT, ended_at=_ONE_UNIT)
    except domain.NoBandForExperience as error:
        raise NoApplicableTariff(f"{tariff.code}: {error}") from error
    return tariff, domain.Charge(entry.quantity or 1, unit.unit_price)


def line_for(entry: records.CodedEntry, tariff: Tariff, charge: domain.Charge, position: int) -> InvoiceLine:
    return InvoiceLine(
        position=position,
        code=tariff.code,
        description=tariff.description,
        quantity=charge.quantity,
        unit_price=charge.unit_price,
        amount=charge.amount,
        source_record_id=entry.id,
    )


async def visit_procedures(uow: UnitOfWork, appointment_id: uuid.UUID) -> list[records.CodedEntry]:
    """The visit's procedures as they stand (not retracted), in the order recorded."""
    entries = await records.coded_entries(uow.session, appointment_id)
    return [entry for entry in entries if entry.type == records.RecordType.PROCEDURE]


async def lines_for_visit(
    uow: UnitOfWork, appointment_id: uuid.UUID, practitioner_id: uuid.UUID | None, service_date: date, first: int
) -> list[InvoiceLine]:
    """Lines for the visit's procedures recorded so far, numbered from `first`."""
    lines: list[InvoiceLine] = []
    for entry in await visit_procedures(uow, appointment_id):
        priced = await price(uow, entry, practitioner_id, service_date)
        if priced is not None:
            lines.append(line_for(entry, *priced, position=first + len(lines)))
    return lines
