"""Billing use cases: tariffs, consultation invoices, the payments' view of an invoice, accounts receivable.

Every use case takes the unit of work and flushes; the entrypoint (a route or a consumer) commits.
One invoice per appointment is the database's invariant (a unique constraint); the insert runs in a
savepoint so that a caller who loses the race gets the winner's invoice instead of an error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol

import structlog
from pydantic import TypeAdapter
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from caremesh.audit import contract as audit
from caremesh.billing import domain
from caremesh.billing.domain import InvoiceStatus, Kind
from caremesh.billing.events import InvoiceIssued, InvoicePaid, InvoiceVoided
from caremesh.billing.models import (
    ONE_CONSULTATION_TARIFF_PER_SPECIALTY,
    ONE_INVOICE_PER_APPOINTMENT,
    ONE_INVOICE_PER_ORDER,
    Invoice,
    InvoiceLine,
    Tariff,
)
from caremesh.billing.schemas import (
    AccountsReceivableRead,
    AgingRead,
    InvoiceLineRead,
    InvoiceRead,
    PatientAgingRead,
    PayerAgingRead,
    Pricing,
    TariffCreate,
    TariffRead,
    TariffUpdate,
)
from caremesh.insurance import contract as insurance
from caremesh.patients import contract as patients
from caremesh.platform.db import dialect_insert, one_or_raise, violates, where_given
from caremesh.platform.errors import Conflict, NotFound, check_version, invalid_field
from caremesh.platform.numbering import next_number
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.timeutil import clinic_date, clinic_timezone
from caremesh.platform.uow import UnitOfWork
from caremesh.practitioners import contract as practitioners
from caremesh.scheduling import contract as scheduling

log = structlog.get_logger("caremesh.billing")

NUMBER_PREFIX = "INV"
GENERAL_CONSULTATION = "CONSULT-GENERAL"
# The tariffs whose tax rate an order's invoice uses; a flat amount above zero adds a per-order fee line.
ORDER_TARIFFS = {Kind.MEDICATION: "ORDER-MEDICATION", Kind.LAB: "ORDER-LAB"}
PATIENT_PAYER = "patient"


# --- errors --------------------------------------------------------------------------


class TariffNotFound(NotFound):
    code, title = "TARIFF_NOT_FOUND", "Tariff not found"


class TariffExists(Conflict):
    code, title = "TARIFF_EXISTS", "A tariff with this code exists"


class ConsultationTariffExists(Conflict):
    code, title = "CONSULTATION_TARIFF_EXISTS", "Another consultation tariff prices this specialty"


class NoApplicableTariff(Conflict):
    code, title = "NO_APPLICABLE_TARIFF", "No tariff prices this visit"


class InvoiceNotFound(NotFound):
    code, title = "INVOICE_NOT_FOUND", "Invoice not found"


class InvoiceNotPayable(Conflict):
    code, title = "INVOICE_NOT_PAYABLE", "The invoice is void or paid"


class AmountExceedsBalance(Conflict):
    code, title = "AMOUNT_EXCEEDS_BALANCE", "The amount exceeds the balance due"


class InvoiceHasPayments(Conflict):
    code, title = "INVOICE_HAS_PAYMENTS", "The invoice has payments; refund them first"


class InvoiceNotVoidable(Conflict):
    code, title = "INVOICE_NOT_VOIDABLE", "The invoice is already void"


class InsuranceShareExceeded(Conflict):
    code, title = "INSURANCE_SHARE_EXCEEDED", "The payment exceeds the invoice's outstanding insurance share"


class NoPaymentPending(Conflict):
    code, title = "NO_PAYMENT_PENDING", "No payment of this amount is pending on the invoice"


class RefundExceedsAmountPaid(Conflict):
    code, title = "REFUND_EXCEEDS_AMOUNT_PAID", "The refund exceeds what was paid on the invoice"


class AppointmentNotFound(NotFound):
    code, title = "APPOINTMENT_NOT_FOUND", "Appointment not found"


class AppointmentNotCompleted(Conflict):
    code, title = "APPOINTMENT_NOT_COMPLETED", "The appointment is not completed"


class AppointmentCancelled(Conflict):
    code, title = "APPOINTMENT_CANCELLED", "The appointment is cancelled"


class PatientNotFound(NotFound):
    code, title = "PATIENT_NOT_FOUND", "Patient not found"


class PractitionerNotFound(NotFound):
    code, title = "PRACTITIONER_NOT_FOUND", "Practitioner not found"


# --- tariffs ----------------------------------------------------------------------------

_PRICING = TypeAdapter(Pricing)

DEFAULT_TARIFFS: tuple[dict[str, Any], ...] = (
    {
        "code": "CONSULT-ORTHOPEDICS",
        "description": "Orthopedics consultation",
        "kind": Kind.CONSULTATION,
        "specialty": "orthopedics",
        "pricing": {
            "type": "experience_bands",
            "bands": [
                {"min_years": 0, "max_years": 19, "amount": "800.00"},
                {"min_years": 20, "max_years": 30, "amount": "1000.00"},
                {"min_years": 31, "max_years": None, "amount": "1500.00"},
            ],
        },
    },
    {
        "code": "CONSULT-CARDIOLOGY",
        "description": "Cardiology consultation",
        "kind": Kind.CONSULTATION,
        "specialty": "cardiology",
        "pricing": {
            "type": "experience_bands",
            "bands": [
                {"min_years": 0, "max_years": 19, "amount": "1000.00"},
                {"min_years": 20, "max_years": 30, "amount": "1500.00"},
                {"min_years": 31, "max_years": None, "amount": "2000.00"},
            ],
        },
    },
    {
        "code": GENERAL_CONSULTATION,
        "description": "Consultation, every other specialty (per hour)",
        "kind": Kind.CONSULTATION,
        "specialty": None,
        "pricing": {"type": "hourly", "rate": "200.00", "round_up_after_minutes": 10},
    },
    {
        "code": ORDER_TARIFFS[Kind.MEDICATION],
        "description": "Prescriptions: tax rate, and a dispensing fee per order when above zero",
        "kind": Kind.MEDICATION,
        "specialty": None,
        "pricing": {"type": "flat", "amount": "0.00"},
    },
    {
        "code": ORDER_TARIFFS[Kind.LAB],
        "description": "Lab orders: tax rate, and a collection fee per order when above zero",
        "kind": Kind.LAB,
        "specialty": None,
        "pricing": {"type": "flat", "amount": "0.00"},
    },
)


def tariff_to_read(uow: UnitOfWork, tariff: Tariff) -> TariffRead:
    return TariffRead(
        code=tariff.code,
        description=tariff.description,
        kind=Kind(tariff.kind),
        specialty=tariff.specialty,
        pricing=_PRICING.validate_python(tariff.pricing),
        tax_rate=tariff.tax_rate,
        effective_tax_rate=_tax_rate(uow, tariff),
        version=tariff.version,
        created_at=tariff.created_at,
        updated_at=tariff.updated_at,
    )


def _tax_rate(uow: UnitOfWork, tariff: Tariff) -> Decimal:
    return uow.settings.billing.tax_rate if tariff.tax_rate is None else tariff.tax_rate


def _pricing_json(pricing: Any) -> dict[str, Any]:
    return pricing.model_dump(mode="json")


def _pricing(tariff: Tariff) -> domain.Pricing:
    return _PRICING.validate_python(tariff.pricing).to_domain()


async def bootstrap(uow: UnitOfWork) -> None:
    """Create the default tariffs that are missing; existing ones (maybe edited) are left alone, and so is a
    default whose specialty another consultation tariff took. One statement that skips whatever conflicts on a
    unique key, so processes starting at once on one database each run it safely."""
    now = uow.now()
    rows = [
        {
            "code": default["code"],
            "description": default["description"],
            "kind": str(default["kind"]),
            "specialty": default["specialty"],
            "pricing": _pricing_json(_PRICING.validate_python(default["pricing"])),
            "tax_rate": None,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for default in DEFAULT_TARIFFS
    ]
    await uow.session.execute(dialect_insert(uow.session)(Tariff).values(rows).on_conflict_do_nothing())


async def _flush_tariff(uow: UnitOfWork) -> None:
    try:
        await uow.session.flush()
    except IntegrityError as error:
        # SQLite names the columns of a failed unique index, PostgreSQL the index.
        if violates(error, ONE_CONSULTATION_TARIFF_PER_SPECIALTY) or violates(error, "tariffs.specialty"):
            raise ConsultationTariffExists() from error
        if violates(error, "pk_tariffs") or violates(error, "tariffs.code"):
            raise TariffExists() from error
        raise


async def _check_specialty_free(uow: UnitOfWork, kind: str, specialty: str | None, code: str) -> None:
    if kind != Kind.CONSULTATION or specialty is None:
        return
    other = await uow.session.scalar(
        select(Tariff.code).where(Tariff.kind == Kind.CONSULTATION, Tariff.specialty == specialty, Tariff.code != code)
    )
    if other is not None:
        raise ConsultationTariffExists(f"{other} already prices {specialty} consultations.")


async def create_tariff(uow: UnitOfWork, data: TariffCreate) -> Tariff:
    if await uow.session.get(Tariff, data.code) is not None:
        raise TariffExists(f"A tariff with code {data.code} exists.")
    await _check_specialty_free(uow, data.kind, data.specialty, data.code)
    now = uow.now()
    tariff = Tariff(
        code=data.code,
        description=data.description,
        kind=data.kind,
        specialty=data.specialty,
        pricing=_pricing_json(data.pricing),
        tax_rate=data.tax_rate,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(tariff)
    await _flush_tariff(uow)
    audit.record(uow, "tariff.create", "tariff", tariff.code)
    return tariff


async def _load_tariff(uow: UnitOfWork, code: str, *, for_update: bool = False) -> Tariff:
    query = select(Tariff).where(Tariff.code == code.upper())
    if for_update:
        query = query.with_for_update()
    tariff = await uow.session.scalar(query)
    if tariff is None:
        raise TariffNotFound()
    return tariff


async def get_tariff(uow: UnitOfWork, code: str) -> Tariff:
    return await _load_tariff(uow, code)


async def list_tariffs(
    uow: UnitOfWork, *, kind: Kind | None, specialty: str | None, page: PageParams
) -> tuple[list[Tariff], str | None]:
    query = where_given(select(Tariff), (Tariff.kind, kind), (Tariff.specialty, specialty))
    return await paginate(uow.session, query, order_by=[Tariff.code], params=page)


async def update_tariff(uow: UnitOfWork, code: str, data: TariffUpdate, expected_version: int | None) -> Tariff:
    """Change what the body names. Invoices already issued keep the prices they were issued with."""
    tariff = await _load_tariff(uow, code, for_update=True)
    check_version(tariff.version, expected_version)
    changes = data.model_dump(exclude_unset=True)
    for field in ("description", "pricing"):
        if field in changes and changes[field] is None:
            raise invalid_field(field, "cannot be cleared")
    if "specialty" in changes:
        await _check_specialty_free(uow, tariff.kind, data.specialty, tariff.code)
        tariff.specialty = data.specialty
    if "description" in changes:
        tariff.description = data.description
    if "pricing" in changes:
        if tariff.code in ORDER_TARIFFS.values() and data.pricing is not None and data.pricing.type != "flat":
            raise invalid_field("pricing", "an order tariff is flat: its amount is a fee per order")
        tariff.pricing = _pricing_json(data.pricing)
    if "tax_rate" in changes:
        tariff.tax_rate = data.tax_rate
    if changes:
        tariff.updated_at = uow.now()
        await _flush_tariff(uow)
    audit.record(uow, "tariff.update", "tariff", tariff.code)
    return tariff


async def consultation_tariff(uow: UnitOfWork, specialty: str) -> Tariff:
    """The consultation tariff of the specialty, else CONSULT-GENERAL."""
    tariff = await uow.session.scalar(
        select(Tariff).where(Tariff.kind == Kind.CONSULTATION, Tariff.specialty == specialty)
    )
    tariff = tariff or await uow.session.get(Tariff, GENERAL_CONSULTATION)
    if tariff is None:
        raise NoApplicableTariff(f"No consultation tariff for {specialty} and no {GENERAL_CONSULTATION}.")
    return tariff


# --- coverage: the seam an insurance context plugs into ------------------------------


class CoverageSource(Protocol):
    async def coverage_percent(
        self, uow: UnitOfWork, patient: patients.PatientSummary, category: str, on: date
    ) -> Decimal | None:
        """The percent of the total the patient's insurer pays for `category`, or None when this
        source does not know (the next source, finally the default, decides)."""
        ...


class DefaultCoverage:
    """`CAREMESH_DEFAULT_COVERAGE_PERCENT` (90) for a patient with insurance identifiers, else 0."""

    async def coverage_percent(
        self, uow: UnitOfWork, patient: patients.PatientSummary, category: str, on: date
    ) -> Decimal | None:
        return uow.settings.billing.default_coverage_percent if patient.has_insurance else Decimal(0)


# What insurance calls each kind of charge.
INSURANCE_CATEGORIES = {
    Kind.CONSULTATION: insurance.Category.CONSULTATION,
    Kind.LAB: insurance.Category.LAB,
    Kind.MEDICATION: insurance.Category.PHARMACY,
    Kind.PROCEDURE: insurance.Category.PROCEDURE,
}


class SchemeCoverage:
    """The benefit of the patient's coverage that applies on the day (insurance's contract); no answer when the
    patient is not enrolled in any scheme."""

    async def coverage_percent(
        self, uow: UnitOfWork, patient: patients.PatientSummary, category: str, on: date
    ) -> Decimal | None:
        return await insurance.coverage_percent(uow.session, patient.id, INSURANCE_CATEGORIES[Kind(category)], on)


# Asked in order; the first answer wins: the patient's scheme, else the default for insurance identifiers.
COVERAGE_SOURCES: list[CoverageSource] = [SchemeCoverage(), DefaultCoverage()]


async def coverage_percent(uow: UnitOfWork, patient: patients.PatientSummary, category: str, on: date) -> Decimal:
    for source in COVERAGE_SOURCES:
        percent = await source.coverage_percent(uow, patient, category, on)
        if percent is not None:
            return percent
    return Decimal(0)


# --- invoices -------------------------------------------------------------------------------


def to_read(invoice: Invoice) -> InvoiceRead:
    return InvoiceRead(
        id=invoice.id,
        number=invoice.number,
        patient_id=invoice.patient_id,
        appointment_id=invoice.appointment_id,
        order_id=invoice.order_id,
        practitioner_id=invoice.practitioner_id,
        kind=invoice.kind,
        service_date=invoice.service_date,
        lines=[
            InvoiceLineRead(
                code=line.code,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
            )
            for line in invoice.lines
        ],
        subtotal=invoice.subtotal,
        discount_percent=invoice.discount_percent,
        discount_amount=invoice.discount_amount,
        tax_rate=invoice.tax_rate,
        tax_amount=invoice.tax_amount,
        total=invoice.total,
        coverage_percent=domain.money(invoice.coverage * domain.HUNDRED),
        insurance_amount=invoice.insurance_amount,
        insurance_paid=invoice.insurance_paid,
        patient_amount=invoice.patient_amount,
        amount_paid=invoice.amount_paid,
        balance_due=invoice.balance_due,
        status=InvoiceStatus(invoice.status),
        currency=invoice.currency,
        insurance_bin=invoice.insurance_bin,
        insurance_pcn=invoice.insurance_pcn,
        issued_at=invoice.issued_at,
        paid_at=invoice.paid_at,
        voided_at=invoice.voided_at,
        void_reason=invoice.void_reason,
        version=invoice.version,
        updated_at=invoice.updated_at,
    )


def _issued_event(invoice: Invoice) -> InvoiceIssued:
    return InvoiceIssued(
        invoice_id=invoice.id,
        number=invoice.number,
        patient_id=invoice.patient_id,
        appointment_id=invoice.appointment_id,
        order_id=invoice.order_id,
        subtotal=invoice.subtotal,
        discount_amount=invoice.discount_amount,
        tax_amount=invoice.tax_amount,
        total=invoice.total,
        insurance_amount=invoice.insurance_amount,
        patient_amount=invoice.patient_amount,
        balance_due=invoice.balance_due,
        currency=invoice.currency,
        issued_at=invoice.issued_at,
    )


def _paid_event(invoice: Invoice) -> InvoicePaid:
    assert invoice.paid_at is not None
    return InvoicePaid(
        invoice_id=invoice.id,
        number=invoice.number,
        patient_id=invoice.patient_id,
        total=invoice.total,
        patient_amount=invoice.patient_amount,
        amount_paid=invoice.amount_paid,
        currency=invoice.currency,
        paid_at=invoice.paid_at,
    )


def _may_see(uow: UnitOfWork, patient_id: uuid.UUID) -> bool:
    return uow.actor is None or uow.actor.may_see_patient(patient_id)


def _visible(uow: UnitOfWork, query: Select[tuple[Invoice]]) -> Select[tuple[Invoice]]:
    """A patient-role principal sees only their own invoices; others do not exist for them."""
    if uow.actor is not None and uow.actor.is_patient_only:
        return query.where(Invoice.patient_id == uow.actor.patient_id)
    return query


async def _load(uow: UnitOfWork, invoice_id: uuid.UUID, *, for_update: bool = False) -> Invoice:
    query = _visible(uow, select(Invoice).where(Invoice.id == invoice_id))
    # for_update also sets populate_existing: an invoice already in this session is refreshed from the locked row.
    invoice: Invoice = await one_or_raise(uow.session, query, InvoiceNotFound, for_update=for_update)
    return invoice


async def _by_appointment(uow: UnitOfWork, appointment_id: uuid.UUID) -> Invoice | None:
    return await uow.session.scalar(select(Invoice).where(Invoice.appointment_id == appointment_id))


async def _already_issued(uow: UnitOfWork, appointment_id: uuid.UUID) -> Invoice | None:
    """The cheap check before pricing; the unique constraint decides the races it cannot see."""
    return await _by_appointment(uow, appointment_id)


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
        raise PatientNotFound("The appointment's patient no longer exists.")
    practitioner = await practitioners.find_practitioner(session, appointment.practitioner_id)
    if practitioner is None:
        raise PractitionerNotFound("The appointment's practitioner no longer exists.")
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
) -> Invoice:
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
        insurance_bin=patient.insurance_bin,
        insurance_pcn=patient.insurance_pcn,
        issued_at=now,
        paid_at=now if status is InvoiceStatus.PAID else None,
        created_at=now,
        updated_at=now,
        lines=lines,
    )


async def _insert_numbered(uow: UnitOfWork, invoice: Invoice) -> bool:
    """Number and insert the invoice; False when the database says its visit or order already has one."""
    session = uow.session
    try:
        # The number is taken last and inside the savepoint: a lost race gives it back (no gaps).
        async with session.begin_nested():
            invoice.number = await next_number(session, NUMBER_PREFIX, clinic_date(invoice.issued_at).year)
            session.add(invoice)
            await session.flush()
    except IntegrityError as error:
        if _duplicate_appointment(error) or _duplicate_order(error):
            return False
        raise
    return True


def _announce_issued(uow: UnitOfWork, invoice: Invoice) -> None:
    uow.publish(_issued_event(invoice))
    if invoice.status == InvoiceStatus.PAID:  # nothing for the patient to pay
        uow.publish(_paid_event(invoice))
    audit.record(uow, "invoice.issue", "invoice", invoice.id)


def _duplicate_appointment(error: IntegrityError) -> bool:
    return violates(error, ONE_INVOICE_PER_APPOINTMENT) or violates(error, "invoices.appointment_id")


def _duplicate_order(error: IntegrityError) -> bool:
    return violates(error, ONE_INVOICE_PER_ORDER) or violates(error, "invoices.order_id")


async def issue_for_appointment(uow: UnitOfWork, appointment_id: uuid.UUID) -> tuple[Invoice, bool]:
    """The appointment's invoice, issuing it if there is none yet: (invoice, issued now).

    Concurrent callers (a consumer and requests) get the one invoice the database lets exist.
    """
    existing = await _already_issued(uow, appointment_id)
    if existing is not None:
        if not _may_see(uow, existing.patient_id):
            raise AppointmentNotFound()
        return existing, False
    # Share-locked: a cancellation waits until this invoice is committed, so its consumer finds and
    # voids it; and a visit already cancelled is seen as such here.
    appointment = await scheduling.find_appointment(uow.session, appointment_id, lock=True)
    if appointment is None or not _may_see(uow, appointment.patient_id):
        raise AppointmentNotFound()
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
    invoice = _new_invoice(
        uow,
        quote.patient,
        quote.amounts,
        [line],
        kind=Kind.CONSULTATION,
        service_date=quote.service_date,
        practitioner_id=appointment.practitioner_id,
        appointment_id=appointment.id,
    )
    if not await _insert_numbered(uow, invoice):
        winner = await _by_appointment(uow, appointment_id)
        if winner is None:  # pragma: no cover - the constraint said it exists
            raise RuntimeError(f"appointment {appointment_id} has an invoice nobody can read")
        return winner, False
    _announce_issued(uow, invoice)
    return invoice, True


# --- order invoices (the orders saga, through contract.py) -----------------------------------


@dataclass(frozen=True)
class ChargeLine:
    code: str
    description: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrderCharge:
    """What an order asks billing to invoice: its items priced by the pharmacy or lab catalogue."""

    order_id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID | None
    kind: Kind  # medication | lab
    lines: tuple[ChargeLine, ...]


async def _by_order(uow: UnitOfWork, order_id: uuid.UUID) -> Invoice | None:
    return await uow.session.scalar(select(Invoice).where(Invoice.order_id == order_id))


def _order_lines(charge: OrderCharge, fee_tariff: Tariff | None) -> list[InvoiceLine]:
    priced = [(c.code, c.description, c.quantity, domain.money(c.unit_price)) for c in charge.lines]
    if fee_tariff is not None:
        pricing = _pricing(fee_tariff)
        if isinstance(pricing, domain.Flat) and pricing.amount > 0:
            priced.append((fee_tariff.code, fee_tariff.description, 1, pricing.amount))
    return [
        InvoiceLine(position=n, code=code, description=text, quantity=qty, unit_price=price, amount=price * qty)
        for n, (code, text, qty, price) in enumerate(priced, start=1)
    ]


async def issue_for_order(uow: UnitOfWork, charge: OrderCharge) -> tuple[Invoice, bool]:
    """The order's invoice, issuing it if there is none yet: (invoice, issued now). Lines are
    quantity × catalogue price; no loyalty discount (it rewards visits); the tax rate and any per-order fee
    come from the kind's order tariff; the insurance split as for visits. One invoice per order (unique)."""
    if charge.kind not in ORDER_TARIFFS:
        raise ValueError(f"orders are invoiced as {sorted(ORDER_TARIFFS)}, not {charge.kind}")
    if not charge.lines:
        raise ValueError("an order's invoice needs at least one line")
    existing = await _by_order(uow, charge.order_id)
    if existing is not None:
        return existing, False
    patient = await patients.find_patient(uow.session, charge.patient_id)
    if patient is None:
        raise PatientNotFound("The order's patient no longer exists.")
    tariff = await uow.session.get(Tariff, ORDER_TARIFFS[charge.kind])
    lines = _order_lines(charge, tariff)
    service_date = clinic_date(uow.now())
    amounts = domain.invoice_amounts(
        sum((line.amount for line in lines), domain.ZERO),
        prior_visits=0,
        tax_rate=uow.settings.billing.tax_rate if tariff is None else _tax_rate(uow, tariff),
        coverage_percent=await coverage_percent(uow, patient, charge.kind, service_date),
    )
    invoice = _new_invoice(
        uow,
        patient,
        amounts,
        lines,
        kind=charge.kind,
        service_date=service_date,
        practitioner_id=charge.practitioner_id,
        order_id=charge.order_id,
    )
    if not await _insert_numbered(uow, invoice):
        winner = await _by_order(uow, charge.order_id)
        if winner is None:  # pragma: no cover - the constraint said it exists
            raise RuntimeError(f"order {charge.order_id} has an invoice nobody can read")
        return winner, False
    _announce_issued(uow, invoice)
    return invoice, True


async def void_for_order(uow: UnitOfWork, order_id: uuid.UUID, reason: str) -> Invoice | None:
    """Void the order's invoice (compensation). None when it has none or it is void already;
    409 INVOICE_HAS_PAYMENTS when money has moved on it (refund first)."""
    invoice = await _by_order(uow, order_id)
    if invoice is None:
        return None
    invoice = await _load_unscoped(uow, invoice.id)
    if invoice.status == InvoiceStatus.VOID:
        return None
    if problem := _void_problem(invoice):
        raise problem
    return await _void(uow, invoice, reason)


async def get_invoice(uow: UnitOfWork, invoice_id: uuid.UUID) -> Invoice:
    invoice = await _load(uow, invoice_id)
    audit.record(uow, "invoice.read", "invoice", invoice.id)
    return invoice


async def list_invoices(
    uow: UnitOfWork,
    *,
    patient_id: uuid.UUID | None,
    status: InvoiceStatus | None,
    appointment_id: uuid.UUID | None,
    order_id: uuid.UUID | None = None,
    page: PageParams,
) -> tuple[list[Invoice], str | None]:
    """Invoices in order of number (the order they were issued)."""
    query = where_given(
        _visible(uow, select(Invoice)),
        (Invoice.patient_id, patient_id),
        (Invoice.status, status),
        (Invoice.appointment_id, appointment_id),
        (Invoice.order_id, order_id),
    )
    rows, cursor = await paginate(uow.session, query, order_by=[Invoice.number], params=page)
    audit.record(uow, "invoice.list", "invoice", None)
    for invoice in rows:
        audit.record(uow, "invoice.list_read", "invoice", invoice.id)
    return rows, cursor


async def _void(uow: UnitOfWork, invoice: Invoice, reason: str | None) -> Invoice:
    now = uow.now()
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = now
    invoice.void_reason = reason
    invoice.updated_at = now
    await uow.session.flush()
    uow.publish(
        InvoiceVoided(
            invoice_id=invoice.id,
            number=invoice.number,
            patient_id=invoice.patient_id,
            appointment_id=invoice.appointment_id,
            order_id=invoice.order_id,
            reason=reason,
            voided_at=now,
        )
    )
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
    return None


async def void_invoice(
    uow: UnitOfWork, invoice_id: uuid.UUID, reason: str | None, expected_version: int | None
) -> Invoice:
    invoice = await _load(uow, invoice_id, for_update=True)
    check_version(invoice.version, expected_version)
    if problem := _void_problem(invoice):
        raise problem
    return await _void(uow, invoice, reason)


async def void_for_cancelled_appointment(uow: UnitOfWork, appointment_id: uuid.UUID) -> None:
    """Billing on booking: a cancelled visit's invoice is voided, unless money has moved on it;
    then it stays for the staff to refund and void."""
    invoice = await _by_appointment(uow, appointment_id)
    if invoice is None:
        return
    invoice = await _load(uow, invoice.id, for_update=True)
    problem = _void_problem(invoice)
    if isinstance(problem, InvoiceHasPayments):
        log.warning("cancelled_appointment_invoice_kept", invoice_id=str(invoice.id), reason="has payments")
    if problem is None:
        await _void(uow, invoice, "appointment cancelled")


# --- the payments' side (see contract.py) ----------------------------------------------------


def _refresh_status(uow: UnitOfWork, invoice: Invoice) -> None:
    """Derive the status from the payments; publish invoice.paid when the balance reaches zero."""
    before = invoice.status
    after = domain.payment_status(invoice.amount_paid, invoice.patient_amount)
    invoice.status = after
    invoice.updated_at = uow.now()
    if after == InvoiceStatus.PAID and before != InvoiceStatus.PAID:
        invoice.paid_at = uow.now()
        uow.publish(_paid_event(invoice))
    elif after != InvoiceStatus.PAID:
        invoice.paid_at = None


def _positive(amount: Decimal) -> Decimal:
    if amount <= 0 or domain.money(amount) != amount:
        raise invalid_field("amount", "must be a positive amount with at most two decimals")
    return amount


async def reserve_payment(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal) -> Invoice:
    amount = _positive(amount)
    invoice = await _load(uow, invoice_id, for_update=True)
    if invoice.status in (InvoiceStatus.VOID, InvoiceStatus.PAID):
        raise InvoiceNotPayable(f"The invoice is {invoice.status}.")
    payable = invoice.balance_due - invoice.amount_pending
    if amount > payable:
        raise AmountExceedsBalance(f"At most {payable:.2f} can be paid now.", extra={"payable": f"{payable:.2f}"})
    invoice.amount_pending += amount
    invoice.updated_at = uow.now()
    await uow.session.flush()
    audit.record(uow, "invoice.payment_reserve", "invoice", invoice.id)
    return invoice


async def settle_payment(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal, *, succeeded: bool) -> Invoice:
    amount = _positive(amount)
    invoice = await _load_unscoped(uow, invoice_id)
    if amount > invoice.amount_pending:
        raise NoPaymentPending(f"Only {invoice.amount_pending:.2f} is pending on the invoice.")
    invoice.amount_pending -= amount
    if succeeded:
        invoice.amount_paid += amount
    _refresh_status(uow, invoice)
    await uow.session.flush()
    audit.record(uow, "invoice.payment_settle" if succeeded else "invoice.payment_release", "invoice", invoice.id)
    return invoice


async def record_refund(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal) -> Invoice:
    amount = _positive(amount)
    invoice = await _load_unscoped(uow, invoice_id)
    if amount > invoice.amount_paid:
        raise RefundExceedsAmountPaid(f"Only {invoice.amount_paid:.2f} is paid on the invoice.")
    invoice.amount_paid -= amount
    _refresh_status(uow, invoice)
    await uow.session.flush()
    audit.record(uow, "invoice.refund", "invoice", invoice.id)
    return invoice


async def _load_unscoped(uow: UnitOfWork, invoice_id: uuid.UUID) -> Invoice:
    """Settlements and refunds follow a payment that was already allowed; they may run in a consumer."""
    query = select(Invoice).where(Invoice.id == invoice_id)
    invoice: Invoice = await one_or_raise(uow.session, query, InvoiceNotFound, for_update=True)
    return invoice


async def record_insurance_payment(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal) -> Invoice:
    """Post an insurer's payment (a remittance) against the invoice's insurance share, under its row lock."""
    amount = _positive(amount)
    invoice = await _load_unscoped(uow, invoice_id)
    if invoice.status == InvoiceStatus.VOID:
        raise InvoiceNotPayable("The invoice is void.")
    outstanding = invoice.insurance_amount - invoice.insurance_paid
    if amount > outstanding:
        raise InsuranceShareExceeded(
            f"Only {outstanding:.2f} of the insurance share is outstanding.",
            extra={"outstanding": f"{outstanding:.2f}"},
        )
    invoice.insurance_paid += amount
    invoice.updated_at = uow.now()
    await uow.session.flush()
    audit.record(uow, "invoice.insurance_payment", "invoice", invoice.id)
    return invoice


# --- accounts receivable ---------------------------------------------------------------------


def _payer(bin_: str | None, pcn: str | None) -> str:
    return "/".join(part for part in (bin_, pcn) if part) or "insurer"


def _aging_read(aging: domain.Aging) -> dict[str, Any]:
    return {"buckets": dict(aging.buckets), "total": aging.total}


async def accounts_receivable(uow: UnitOfWork, as_of: date | None) -> AccountsReceivableRead:
    """Open balances of non-void invoices issued on or before `as_of` (clinic-local), aged from the
    clinic-local issue date. Balances are today's: payments after `as_of` are not taken back."""
    as_of = as_of or clinic_date(uow.now())
    day_after = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=clinic_timezone()).astimezone(UTC)
    rows = await uow.session.execute(
        select(
            Invoice.patient_id,
            Invoice.issued_at,
            Invoice.patient_amount,
            Invoice.amount_paid,
            Invoice.insurance_amount,
            Invoice.insurance_paid,
            Invoice.insurance_bin,
            Invoice.insurance_pcn,
        ).where(Invoice.status != InvoiceStatus.VOID, Invoice.issued_at < day_after)
    )
    by_patient: list[tuple[str, date, Decimal]] = []
    by_payer: list[tuple[str, date, Decimal]] = []
    for patient_id, issued_at, patient_amount, paid, insurance_amount, insurance_paid, bin_, pcn in rows:
        issued_on = clinic_date(issued_at)
        patient_open, insurer_open = patient_amount - paid, insurance_amount - insurance_paid
        by_patient += [(str(patient_id), issued_on, patient_open), (str(patient_id), issued_on, insurer_open)]
        by_payer += [(PATIENT_PAYER, issued_on, patient_open), (_payer(bin_, pcn), issued_on, insurer_open)]
    patients_aged = domain.age(by_patient, as_of)
    payers_aged = domain.age(by_payer, as_of)
    totals = domain.Aging.empty()
    for aging in payers_aged.values():
        for bucket, amount in aging.buckets.items():
            totals.add(bucket, amount)
    audit.record(uow, "accounts_receivable.read", "invoice", None)
    return AccountsReceivableRead(
        as_of=as_of,
        currency=uow.settings.app.currency,
        totals=AgingRead(**_aging_read(totals)),
        by_patient=[
            PatientAgingRead(patient_id=uuid.UUID(key), **_aging_read(aging))
            for key, aging in sorted(patients_aged.items(), key=lambda item: (-item[1].total, item[0]))
        ],
        by_payer=[
            PayerAgingRead(payer=key, **_aging_read(aging))
            for key, aging in sorted(payers_aged.items(), key=lambda item: (item[0] != PATIENT_PAYER, item[0]))
        ],
    )
