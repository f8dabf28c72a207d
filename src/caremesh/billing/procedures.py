"""Procedures recorded on a visit after its invoice: billing follows the medical record (records' contract).

Whatever event arrives (created, amended, retracted; redelivered, reordered or at once), billing reads the record as
it stands and brings the visit's billing in line with it, so the order of deliveries does not matter:

- a procedure not yet billed goes on the visit's newest invoice that has no payments (its consultation invoice, or
  a supplementary one), re-priced as API.md's amounts say at that invoice's discount, tax rate and coverage; when
  every invoice of the visit has payments, on a new supplementary invoice (kind `procedure`, its own number);
- a billed procedure amended or retracted before its invoice has payments: its line follows (re-priced, or removed;
  a supplementary invoice left without lines is voided); after payments nothing changes here (a credit note or a
  supplementary charge corrects it, by hand);
- a visit not invoiced yet: nothing now; its invoice takes the procedures recorded by then (service.py).

The line remembers its record (unique), so a procedure is billed once whatever the deliveries do; the visit's
billing takes turns (procedure_lines.serialise_visit), and an invoice is changed under its row lock, so a payment
starting at once either sees the new amounts or makes the procedure go to a supplementary invoice.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import select

from caremesh.audit import contract as audit
from caremesh.billing import domain, procedure_lines
from caremesh.billing.coverage import coverage_percent
from caremesh.billing.domain import InvoiceStatus, Kind
from caremesh.billing.models import Invoice, InvoiceLine, Tariff
from caremesh.billing.service import (
    ANY_INVOICE,
    BY_APPOINTMENT,
    _announce_issued,
    _insert_numbered,
    _new_invoice,
    _void,
)
from caremesh.billing.tariffs import _tax_rate
from caremesh.patients import contract as patients
from caremesh.platform.uow import UnitOfWork
from caremesh.records import contract as records

log = structlog.get_logger("caremesh.billing")


def has_payments(invoice: Invoice) -> bool:
    """Money has moved on it (or it is settled): its lines are fixed from then on."""
    moved = (
        invoice.amount_paid != 0
        or invoice.amount_pending != 0
        or invoice.insurance_paid != 0
        or invoice.credited_amount != 0
    )
    return moved or invoice.status == InvoiceStatus.PAID


async def follow_procedure(uow: UnitOfWork, appointment_id: uuid.UUID, record_id: uuid.UUID) -> None:
    """Bring the visit's billing in line with procedure `record_id` as it stands now."""
    await procedure_lines.serialise_visit(uow, appointment_id)
    consultation = await BY_APPOINTMENT.find(uow, appointment_id, for_update=True)
    if consultation is None:
        return  # the visit's invoice, when issued, takes the procedures recorded by then
    entries = await procedure_lines.visit_procedures(uow, appointment_id)
    entry = next((each for each in entries if each.id == record_id), None)
    line = await uow.session.scalar(select(InvoiceLine).where(InvoiceLine.source_record_id == record_id))
    if line is not None:
        await _follow_billed(uow, line, entry, consultation)
    elif entry is not None:
        await _bill(uow, entry, consultation)


async def _follow_billed(
    uow: UnitOfWork, line: InvoiceLine, entry: records.CodedEntry | None, consultation: Invoice
) -> None:
    invoice = await ANY_INVOICE.load(uow, line.invoice_id, for_update=True)
    if has_payments(invoice) or invoice.status == InvoiceStatus.VOID:
        log.info("billed_procedure_kept", record_id=str(line.source_record_id), invoice_id=str(invoice.id))
        return
    if entry is None:  # retracted
        invoice.lines.remove(line)
        if not invoice.lines:
            await _void_empty(uow, invoice)
            return
    else:
        priced = await procedure_lines.price(uow, entry, consultation.practitioner_id, consultation.service_date)
        if priced is None:
            return
        tariff, charge = priced
        if (line.code, line.quantity, line.unit_price) == (tariff.code, charge.quantity, charge.unit_price):
            return  # already as the record says (a redelivery, or an amendment of something else)
        line.code, line.description = tariff.code, tariff.description
        line.quantity, line.unit_price, line.amount = charge.quantity, charge.unit_price, charge.amount
    _reprice(uow, invoice)
    await uow.session.flush()
    audit.record(uow, "invoice.procedure_follow", "invoice", invoice.id)


async def _bill(uow: UnitOfWork, entry: records.CodedEntry, consultation: Invoice) -> None:
    if consultation.status == InvoiceStatus.VOID:
        log.info("procedure_not_billed", record_id=str(entry.id), reason="the visit's invoice is void")
        return
    priced = await procedure_lines.price(uow, entry, consultation.practitioner_id, consultation.service_date)
    if priced is None:
        return
    target = await _open_invoice(uow, consultation)
    if target is None:
        await _supplementary(uow, consultation, entry, *priced)
        return
    position = max((each.position for each in target.lines), default=0) + 1
    target.lines.append(procedure_lines.line_for(entry, *priced, position=position))
    _reprice(uow, target)
    await uow.session.flush()
    audit.record(uow, "invoice.procedure_add", "invoice", target.id)


async def _open_invoice(uow: UnitOfWork, consultation: Invoice) -> Invoice | None:
    """The visit's newest invoice without payments (locked), else None."""
    if not has_payments(consultation):
        return consultation
    newest = await uow.session.scalar(
        select(Invoice.id)
        .where(Invoice.appointment_id == consultation.appointment_id, Invoice.kind == Kind.PROCEDURE)
        .order_by(Invoice.issued_at.desc(), Invoice.id.desc())
        .limit(1)
    )
    if newest is None:
        return None
    supplementary = await ANY_INVOICE.load(uow, newest, for_update=True)
    if has_payments(supplementary) or supplementary.status == InvoiceStatus.VOID:
        return None
    return supplementary


def _reprice(uow: UnitOfWork, invoice: Invoice) -> None:
    """API.md's amounts for the invoice's lines at its discount, tax rate and coverage (no payments on it)."""
    subtotal = sum((line.amount for line in invoice.lines), domain.ZERO)
    amounts = domain.amounts_at(
        subtotal,
        invoice.discount_percent,
        tax_rate=invoice.tax_rate,
        coverage_percent=invoice.coverage * domain.HUNDRED,
    )
    for name in ("subtotal", "discount_amount", "tax_amount", "total", "insurance_amount", "patient_amount"):
        setattr(invoice, name, getattr(amounts, name))
    invoice.status = domain.payment_status(domain.ZERO, amounts.patient_amount)
    invoice.paid_at = invoice.paid_at if invoice.status == InvoiceStatus.PAID else None
    invoice.updated_at = uow.now()


async def _void_empty(uow: UnitOfWork, invoice: Invoice) -> None:
    """A supplementary invoice whose only procedure was retracted bills nothing: void."""
    _reprice_to_zero(invoice)
    await _void(uow, invoice, "its procedures were retracted")


def _reprice_to_zero(invoice: Invoice) -> None:
    for name in ("subtotal", "discount_amount", "tax_amount", "total", "insurance_amount", "patient_amount"):
        setattr(invoice, name, domain.ZERO)


async def _supplementary(
    uow: UnitOfWork,
    consultation: Invoice,
    entry: records.CodedEntry,
    tariff: Tariff,
    charge: domain.Charge,
) -> None:
    """A new invoice for the procedure: the visit's discount, the tariff's tax rate, the procedure category's
    coverage."""
    patient = await patients.find_patient(uow.session, consultation.patient_id)
    if patient is None:
        log.warning("procedure_not_billed", record_id=str(entry.id), reason="the patient no longer exists")
        return
    amounts = domain.amounts_at(
        charge.amount,
        consultation.discount_percent,
        tax_rate=_tax_rate(uow, tariff),
        coverage_percent=await coverage_percent(uow, patient, Kind.PROCEDURE, consultation.service_date),
    )
    invoice = _new_invoice(
        uow,
        patient,
        amounts,
        [procedure_lines.line_for(entry, tariff, charge, position=1)],
        kind=Kind.PROCEDURE,
        service_date=consultation.service_date,
        practitioner_id=consultation.practitioner_id,
        appointment_id=consultation.appointment_id,
    )
    inserted = await _insert_numbered(uow, invoice, at_commit=True)
    assert inserted, "a supplementary invoice has no unique visit or order"
    _announce_issued(uow, invoice)
