"""Billing's core use cases: consultation invoices (quote, issue, read, void).

Every use case takes the unit of work and flushes; the entrypoint (a route or a consumer) commits.
One invoice per appointment is the database's invariant (a unique constraint); the insert runs in a
savepoint so that a caller who loses the race gets the winner's invoice instead of an error.
Tariffs, coverage, order invoices, the payments' side and accounts receivable have their own modules.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import structlog
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from caremesh.audit import contract as audit
from caremesh.billing import domain, procedure_lines
from caremesh.billing.coverage import INSURANCE_CATEGORIES, coverage_percent
from caremesh.billing.domain import InvoiceStatus, Kind
from caremesh.billing.errors import (
    AppointmentCancelled,
    AppointmentNotCompleted,
    InvoiceHasCreditNotes,
    InvoiceHasPayments,
    InvoiceNotFound,
    InvoiceNotVoidable,
    NoApplicableTariff,
)
from caremesh.billing.events import InvoiceIssued, InvoicePaid, InvoiceVoided
from caremesh.billing.models import (
    ONE_INVOICE_PER_APPOINTMENT,
    ONE_INVOICE_PER_ORDER,
    ONE_INVOICE_PER_PREMIUM_BILLING,
    Invoice,
    InvoiceLine,
)
from caremesh.billing.schemas import InvoiceFilters
from caremesh.billing.tariffs import _pricing, _tax_rate, consultation_tariff
from caremesh.billing.tariffs import bootstrap as bootstrap  # app.py runs each context's service.bootstrap at start-up
from caremesh.patients import contract as patients
from caremesh.platform.db import violates
from caremesh.platform.errors import Conflict
from caremesh.platform.mapping import from_attributes
from caremesh.platform.numbering import next_gapless_number
from caremesh.platform.pagination import PageParams
from caremesh.platform.repository import Repository
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork
from caremesh.practitioners import contract as practitioners
from caremesh.scheduling import contract as scheduling

log = structlog.get_logger("caremesh.billing")

NUMBER_PREFIX = "INV"


# --- invoices -------------------------------------------------------------------------------

# What a principal asks for: a patient-role principal sees only their own invoices; others do not exist for them.
INVOICES: Repository[Invoice] = audit.repository(
    Invoice,
    InvoiceNotFound,
    entity="invoice",
    owner=Invoice.patient_id,
    order_by=[Invoice.number],  # the order they were issued
)
# What follows a payment or an order that was already allowed (settlements, refunds, compensations, consumers).
ANY_INVOICE: Repository[Invoice] = audit.repository(Invoice, InvoiceNotFound, entity="invoice")
# The consultation invoice of a visit, the invoice of an order (at most one each: unique constraints), for
# whoever is already allowed. A visit's supplementary invoices (kind procedure) are not its consultation invoice.
BY_APPOINTMENT: Repository[Invoice] = audit.repository(
    Invoice,
    InvoiceNotFound,
    entity="invoice",
    key=Invoice.appointment_id,
    where=[Invoice.kind == Kind.CONSULTATION],
)
BY_ORDER: Repository[Invoice] = audit.repository(Invoice, InvoiceNotFound, entity="invoice", key=Invoice.order_id)
BY_PREMIUM_BILLING: Repository[Invoice] = audit.repository(
    Invoice, InvoiceNotFound, entity="invoice", key=Invoice.premium_billing_id
)


def _issued_event(invoice: Invoice) -> InvoiceIssued:
    return from_attributes(InvoiceIssued, invoice, invoice_id=invoice.id)


def _paid_event(invoice: Invoice) -> InvoicePaid:
    assert invoice.paid_at is not None
    return from_attributes(InvoicePaid, invoice, invoice_id=invoice.id)


async def _already_issued(uow: UnitOfWork, appointment_id: uuid.UUID) -> Invoice | None:
    """The cheap check before pricing; the unique constraint decides the races it cannot see."""
    return await BY_APPOINTMENT.find(uow, appointment_id)


def _billing_on_booking(uow: UnitOfWork) -> bool:
    return uow.settings.billing.bill_on == "booked"


def _check_billable(uow: UnitOfWork, appointment: scheduling.AppointmentSummary) -> None:
    if _billing_on_booking(uow):
        if appointment.status == "cancelled":
            raise AppointmentCancelled("A cancelled appointment is not billed.")
    elif appointment.status != "completed":
        raise AppointmentNotCompleted(f"The appointment is {appointment.status}; it is billed once completed.")


def _visit_times(uow: UnitOfWork, appointment: scheduling.AppointmentSummary) -> tuple[datetime, datetime]:
    """Billing on booking prices the scheduled times; billing on completion the recorded ones."""
    if _billing_on_booking(uow) or appointment.started_at is None or appointment.ended_at is None:
        return appointment.start_at, appointment.end_at
    return appointment.started_at, appointment.ended_at


@dataclass(frozen=True)
class Quote:
    """Everything an invoice for a visit needs, priced but not yet numbered."""

    patient: patients.PatientSummary
    tariff_code: str
    description: str
    charge: domain.Charge
    amounts: domain.Amounts
    service_date: date  # the visit's day in the clinic's timezone


async def quote_visit(uow: UnitOfWork, appointment: scheduling.AppointmentSummary) -> Quote:
    """Price a visit by API.md's rules: tariff, loyalty discount, tax, insurance split."""
    session = uow.session
    patient = await patients.find_patient(session, appointment.patient_id)
    if patient is None:
        raise patients.PatientNotFound("The appointment's patient no longer exists.")
    practitioner = await practitioners.find_practitioner(session, appointment.practitioner_id)
    if practitioner is None:
        raise practitioners.PractitionerNotFound("The appointment's practitioner no longer exists.")
    started_at, ended_at = _visit_times(uow, appointment)
    visit_day = clinic_date(started_at)
    tariff = await consultation_tariff(uow, appointment.specialty)
    try:
        charge = domain.charge(
            _pricing(tariff),
            experience_years=practitioners.experience_years(practitioner, visit_day),
            started_at=started_at,
            ended_at=ended_at,
        )
    except domain.NoBandForExperience as error:
        raise NoApplicableTariff(f"{tariff.code}: {error}") from error
    prior = await scheduling.count_completed_before(session, appointment.patient_id, before=appointment.start_at)
    amounts = domain.invoice_amounts(
        charge.amount,
        prior_visits=prior,
        tax_rate=_tax_rate(uow, tariff),
        coverage_percent=await coverage_percent(uow, patient, Kind.CONSULTATION, visit_day),
    )
    return Quote(patient, tariff.code, tariff.description, charge, amounts, visit_day)


def _new_invoice(
    uow: UnitOfWork,
    patient: patients.PatientSummary,
    amounts: domain.Amounts,
    lines: list[InvoiceLine],
    *,
    kind: Kind,
    service_date: date,
    practitioner_id: uuid.UUID | None,
    appointment_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
    insurance_category: str | None = None,
    premium_billing_id: uuid.UUID | None = None,
) -> Invoice:
    """A new invoice, not yet inserted. `insurance_category`: what the split was computed under (default: the
    kind's, none for a premium)."""
    now = uow.now()
    status = domain.payment_status(domain.ZERO, amounts.patient_amount)
    return Invoice(
        id=uuid.uuid4(),
        patient_id=patient.id,
        appointment_id=appointment_id,
        order_id=order_id,
        practitioner_id=practitioner_id,
        kind=kind,
        service_date=service_date,
        status=status,
        currency=uow.settings.app.currency,
        subtotal=amounts.subtotal,
        discount_percent=amounts.discount_percent,
        discount_amount=amounts.discount_amount,
        tax_rate=amounts.tax_rate,
        tax_amount=amounts.tax_amount,
        total=amounts.total,
        coverage=amounts.coverage_percent / domain.HUNDRED,
        insurance_amount=amounts.insurance_amount,
        patient_amount=amounts.patient_amount,
        amount_paid=domain.ZERO,
        amount_pending=domain.ZERO,
        insurance_paid=domain.ZERO,
        credited_amount=domain.ZERO,
        insurance_category=insurance_category or INSURANCE_CATEGORIES.get(kind),
        premium_billing_id=premium_billing_id,
        insurance_bin=patient.insurance_bin,
        insurance_pcn=patient.insurance_pcn,
        issued_at=now,
        paid_at=now if status is InvoiceStatus.PAID else None,
        created_at=now,
        updated_at=now,
        lines=lines,
    )


async def _insert_numbered(uow: UnitOfWork, invoice: Invoice, *, at_commit: bool = False) -> bool:
    """Insert the invoice, then number it; False when the database says its visit or order already has one.

    Invoice numbers are gapless per year (tax documents, docs/DECISIONS.md): the counter's row stays locked
    until commit, so it is taken last, after the insert (a lost race takes none); with `at_commit`, only just
    before the unit commits, and the events that carry the number are published then, after it is set.
    """
    session = uow.session
    invoice.number = f"PENDING-{uuid.uuid4().hex[:12]}"  # unique, fits the column, never committed
    try:
        async with session.begin_nested():
            session.add(invoice)
            await session.flush()
    except IntegrityError as error:
        if _duplicate_appointment(error) or _duplicate_order(error) or _duplicate_premium(error):
            return False
        raise
    if at_commit:
        uow.state.setdefault(_UNNUMBERED, []).append(invoice)
        uow.before_commit(_UNNUMBERED, _number_at_commit)
    else:
        await _number(uow, invoice)
    return True


_UNNUMBERED = "billing.unnumbered_invoices"


async def _number(uow: UnitOfWork, invoice: Invoice) -> None:
    """Part of issuing, not a change: the invoice keeps its first version."""
    number = await next_gapless_number(uow.session, NUMBER_PREFIX, clinic_date(invoice.issued_at).year)
    numbered = update(Invoice).where(Invoice.id == invoice.id).values(number=number)
    await uow.session.execute(numbered.execution_options(synchronize_session=False))
    set_committed_value(invoice, "number", number)


async def _number_at_commit(uow: UnitOfWork) -> None:
    for invoice in uow.state.pop(_UNNUMBERED, []):
        await _number(uow, invoice)
        _publish_issued(uow, invoice)


async def _issue(
    uow: UnitOfWork, invoice: Invoice, lookup: Repository[Invoice], key: uuid.UUID, *, at_commit: bool = False
) -> tuple[Invoice, bool]:
    """Insert, number and announce a new invoice: (it, True); or, when the database says its visit or order
    (`key` of `lookup`) has one already, (that one, False)."""
    if await _insert_numbered(uow, invoice, at_commit=at_commit):
        _announce_issued(uow, invoice)
        return invoice, True
    winner = await lookup.find(uow, key)
    if winner is None:  # pragma: no cover - the constraint said it exists
        raise RuntimeError(f"{key} has an invoice nobody can read")
    return winner, False


def _announce_issued(uow: UnitOfWork, invoice: Invoice) -> None:
    if invoice not in uow.state.get(_UNNUMBERED, ()):  # else published once it is numbered
        _publish_issued(uow, invoice)
    audit.record(uow, "invoice.issue", "invoice", invoice.id)


def _publish_issued(uow: UnitOfWork, invoice: Invoice) -> None:
    uow.publish(_issued_event(invoice))
    if invoice.status == InvoiceStatus.PAID:  # nothing for the patient to pay
        uow.publish(_paid_event(invoice))


def _duplicate_appointment(error: IntegrityError) -> bool:
    return violates(error, ONE_INVOICE_PER_APPOINTMENT) or violates(error, "invoices.appointment_id")


def _duplicate_order(error: IntegrityError) -> bool:
    return violates(error, ONE_INVOICE_PER_ORDER) or violates(error, "invoices.order_id")


def _duplicate_premium(error: IntegrityError) -> bool:
    return violates(error, ONE_INVOICE_PER_PREMIUM_BILLING) or violates(error, "invoices.premium_billing_id")


async def issue_for_appointment(
    uow: UnitOfWork, appointment_id: uuid.UUID, *, number_at_commit: bool = False
) -> tuple[Invoice, bool]:
    """The appointment's invoice, issuing it if there is none yet: (invoice, issued now).

    Concurrent callers (a consumer and requests) get the one invoice the database lets exist.
    `number_at_commit`: a new invoice is numbered only as the unit commits (its number is not read before:
    the consumers); else before this returns (a response shows it).
    """
    existing = await _already_issued(uow, appointment_id)
    if existing is not None:
        if not INVOICES.may_see(uow, existing.patient_id):
            raise scheduling.AppointmentNotFound()
        return existing, False
    # Share-locked: a cancellation waits until this invoice is committed, so its consumer finds and
    # voids it; and a visit already cancelled is seen as such here.
    appointment = await scheduling.find_appointment(uow.session, appointment_id, lock=True)
    if appointment is None or not INVOICES.may_see(uow, appointment.patient_id):
        raise scheduling.AppointmentNotFound()
    _check_billable(uow, appointment)
    quote = await quote_visit(uow, appointment)
    line = InvoiceLine(
        position=1,
        code=quote.tariff_code,
        description=quote.description,
        quantity=quote.charge.quantity,
        unit_price=quote.charge.unit_price,
        amount=quote.charge.amount,
    )
    # The procedures recorded before the invoice go on it (those recorded after: procedures.py).
    await procedure_lines.serialise_visit(uow, appointment.id)
    lines = [line] + await procedure_lines.lines_for_visit(
        uow, appointment.id, appointment.practitioner_id, quote.service_date, first=2
    )
    amounts = quote.amounts
    if len(lines) > 1:
        subtotal = sum((each.amount for each in lines), domain.ZERO)
        amounts = domain.amounts_at(
            subtotal, amounts.discount_percent, tax_rate=amounts.tax_rate, coverage_percent=amounts.coverage_percent
        )
    invoice = _new_invoice(
        uow,
        quote.patient,
        amounts,
        lines,
        kind=Kind.CONSULTATION,
        service_date=quote.service_date,
        practitioner_id=appointment.practitioner_id,
        appointment_id=appointment.id,
    )
    return await _issue(uow, invoice, BY_APPOINTMENT, appointment_id, at_commit=number_at_commit)


async def get_invoice(uow: UnitOfWork, invoice_id: uuid.UUID) -> Invoice:
    return await INVOICES.get(uow, invoice_id)


async def list_invoices(uow: UnitOfWork, filters: InvoiceFilters, page: PageParams) -> tuple[list[Invoice], str | None]:
    return await INVOICES.list(uow, filters, page)


async def _void(uow: UnitOfWork, invoice: Invoice, reason: str | None) -> Invoice:
    now = uow.now()
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = now
    invoice.void_reason = reason
    invoice.updated_at = now
    await uow.session.flush()
    uow.publish(from_attributes(InvoiceVoided, invoice, invoice_id=invoice.id, reason=reason))
    audit.record(uow, "invoice.void", "invoice", invoice.id)
    return invoice


def _void_problem(invoice: Invoice) -> Conflict | None:
    if invoice.status == InvoiceStatus.VOID:
        return InvoiceNotVoidable()
    if invoice.amount_paid != 0 or invoice.amount_pending != 0:
        return InvoiceHasPayments(
            f"{invoice.amount_paid:.2f} is paid and {invoice.amount_pending:.2f} pending; refund before voiding."
        )
    if invoice.insurance_paid != 0:
        return InvoiceHasPayments(f"The insurer has paid {invoice.insurance_paid:.2f} on the invoice.")
    if invoice.credited_amount != 0:
        return InvoiceHasCreditNotes(f"{invoice.credited_amount:.2f} is credited on the invoice; it stays as issued.")
    return None


async def void_invoice(
    uow: UnitOfWork, invoice_id: uuid.UUID, reason: str | None, expected_version: int | None
) -> Invoice:
    invoice = await INVOICES.load_version(uow, invoice_id, expected_version)
    if problem := _void_problem(invoice):
        raise problem
    return await _void(uow, invoice, reason)


async def void_for_cancelled_appointment(uow: UnitOfWork, appointment_id: uuid.UUID) -> None:
    """Billing on booking: a cancelled visit's invoice is voided, unless money has moved on it;
    then it stays for the staff to refund and void."""
    invoice = await BY_APPOINTMENT.find(uow, appointment_id, for_update=True)
    if invoice is None:
        return
    problem = _void_problem(invoice)
    if isinstance(problem, InvoiceHasPayments):
        log.warning("cancelled_appointment_invoice_kept", invoice_id=str(invoice.id), reason="has payments")
    if problem is None:
        await _void(uow, invoice, "appointment cancelled")
