from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, SmallInteger, String, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from caremesh.billing import domain
from caremesh.billing.domain import InvoiceStatus, Kind, TariffKind
from caremesh.platform.db import Base, Money, UTCDateTime, new_id, partial_index, quoted_list
from caremesh.platform.money import cents_sql

BASIS_POINT = Decimal("0.0001")


class BasisPoints(TypeDecorator[Decimal]):
    """A fraction with four decimals (tax 0.12, coverage 0.9), stored as an integer count of basis
    points (1200, 9000): exact on both databases, where SQLite's NUMERIC would be a float."""

    impl = Integer
    cache_ok = True

    @property
    def python_type(self) -> type:
        return Decimal

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        points = Decimal(value) / BASIS_POINT
        if points != points.to_integral_value():
            raise ValueError(f"{value} has more than four decimals")
        return int(points)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else (Decimal(int(value)) * BASIS_POINT).quantize(BASIS_POINT)


cents = cents_sql


INVOICE_MONEY = (
    "subtotal",
    "discount_amount",
    "tax_amount",
    "total",
    "insurance_amount",
    "patient_amount",
    "amount_paid",
    "amount_pending",
    "insurance_paid",
)

# Names the errors of these constraints carry (see `platform.db.violates`).
# One consultation invoice per visit; supplementary (procedure) invoices of the visit share its appointment_id.
ONE_INVOICE_PER_APPOINTMENT = "uq_invoices_consultation_appointment"
# A medical record (a procedure) is billed on one invoice line at most, however its events are delivered.
ONE_LINE_PER_RECORD = "uq_invoice_lines_source_record_id"
ONE_INVOICE_PER_ORDER = "uq_invoices_order_id"
ONE_CONSULTATION_TARIFF_PER_SPECIALTY = "uq_tariffs_consultation_specialty"
# One premium invoice per premium billing of insurance's, however often premium.billed is delivered.
ONE_INVOICE_PER_PREMIUM_BILLING = "uq_invoices_premium_billing_id"


class Tariff(Base):
    """A price list entry. `pricing` is one of the shapes in `domain` (flat, experience bands, hourly)
    as JSON with amounts as strings; `tax_rate` None means the configured default."""

    __tablename__ = "tariffs"
    __table_args__ = (
        CheckConstraint(f"kind IN ({quoted_list(TariffKind)})", name="kind_known"),
        CheckConstraint("tax_rate_bp BETWEEN 0 AND 10000", name="tax_rate_range"),
        # At most one consultation tariff names a specialty, so a visit's price is never ambiguous.
        partial_index(ONE_CONSULTATION_TARIFF_PER_SPECIALTY, "specialty", unique=True, where="kind = 'consultation'"),
    )

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    description: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    specialty: Mapped[str | None] = mapped_column(String(50))
    pricing: Mapped[dict[str, Any]] = mapped_column(JSON)
    tax_rate: Mapped[Decimal | None] = mapped_column("tax_rate_bp", BasisPoints)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


def _invoice_checks() -> tuple[CheckConstraint, ...]:
    paid, pending, patient = cents("amount_paid"), cents("amount_pending"), cents("patient_amount")
    credited = cents("credited_amount")
    return (
        CheckConstraint(f"status IN ({quoted_list(InvoiceStatus)})", name="status_known"),
        CheckConstraint(f"kind IN ({quoted_list(Kind)})", name="kind_known"),
        CheckConstraint(" AND ".join(f"{cents(m)} >= 0" for m in INVOICE_MONEY), name="amounts_not_negative"),
        CheckConstraint(f"{paid} >= 0", name="amount_paid_not_negative"),
        CheckConstraint(f"{pending} >= 0", name="amount_pending_not_negative"),
        CheckConstraint(f"{credited} >= 0", name="credited_amount_not_negative"),
        # Payments, payments in flight and credit notes together never exceed the patient's share, so the balance
        # (patient_amount - credited_amount - amount_paid) is never negative.
        CheckConstraint(f"{paid} + {pending} + {credited} <= {patient}", name="payments_within_patient_amount"),
        CheckConstraint(f"{cents('insurance_paid')} <= {cents('insurance_amount')}", name="insurance_paid_within"),
        CheckConstraint(
            f"{cents('subtotal')} - {cents('discount_amount')} + {cents('tax_amount')} = {cents('total')}",
            name="total_adds_up",
        ),
        CheckConstraint(f"{cents('insurance_amount')} + {patient} = {cents('total')}", name="split_adds_up"),
        CheckConstraint("discount_percent BETWEEN 0 AND 100", name="discount_percent_range"),
        CheckConstraint("tax_rate_bp BETWEEN 0 AND 10000", name="tax_rate_range"),
        CheckConstraint("coverage_bp BETWEEN 0 AND 10000", name="coverage_range"),
        # The status is a function of payments and credit (domain.payment_status); void only with neither.
        CheckConstraint(
            f"(status = 'void' AND {paid} = 0 AND {pending} = 0 AND {credited} = 0)"
            f" OR (status = 'issued' AND {paid} = 0 AND {credited} < {patient})"
            f" OR (status = 'partially_paid' AND {paid} > 0 AND {paid} + {credited} < {patient})"
            f" OR (status = 'paid' AND {paid} + {credited} = {patient})",
            name="status_matches_payments",
        ),
        # A premium invoice, and only one, answers a premium billing of insurance's.
        CheckConstraint(
            f"(kind = '{Kind.PREMIUM}') = (premium_billing_id IS NOT NULL)", name="premium_names_its_billing"
        ),
    )


class Invoice(Base):
    """What a patient (and their insurer) owes for a visit or an order.

    Patient, appointment, practitioner and order are other contexts' ids, never foreign keys.
    `amount_paid` is patient payments less refunds; `amount_pending` is held by payments still at the
    gateway; `credited_amount` is the sum of its credit notes; `insurance_paid` is what claims have posted.
    The CHECK constraints keep the figures consistent whatever the code does.
    """

    __tablename__ = "invoices"
    __table_args__ = (
        *_invoice_checks(),
        Index("ix_invoices_patient_number", "patient_id", "number"),
        Index("ix_invoices_issued_at", "issued_at"),
        partial_index(ONE_INVOICE_PER_APPOINTMENT, "appointment_id", unique=True, where="kind = 'consultation'"),
        Index("ix_invoices_appointment_id", "appointment_id"),
        Index(ONE_INVOICE_PER_PREMIUM_BILLING, "premium_billing_id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    practitioner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # What was charged (a Kind) and on which day it was done: the claim's category and service date.
    kind: Mapped[str] = mapped_column(String(20))
    service_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Money)
    discount_percent: Mapped[int] = mapped_column(Integer)
    discount_amount: Mapped[Decimal] = mapped_column(Money)
    tax_rate: Mapped[Decimal] = mapped_column("tax_rate_bp", BasisPoints)
    tax_amount: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    coverage: Mapped[Decimal] = mapped_column("coverage_bp", BasisPoints)
    insurance_amount: Mapped[Decimal] = mapped_column(Money)
    patient_amount: Mapped[Decimal] = mapped_column(Money)
    amount_paid: Mapped[Decimal] = mapped_column(Money)
    amount_pending: Mapped[Decimal] = mapped_column(Money)
    insurance_paid: Mapped[Decimal] = mapped_column(Money)
    credited_amount: Mapped[Decimal] = mapped_column(Money)
    # The patient's insurance identifiers when issued: the payer of the insurer's share.
    insurance_bin: Mapped[str | None] = mapped_column(String(6))
    insurance_pcn: Mapped[str | None] = mapped_column(String(10))
    # The insurance category the split was computed under (a manual invoice's depends on its lines); null for a
    # premium (no insurance share).
    insurance_category: Mapped[str | None] = mapped_column(String(20))
    # A premium invoice: insurance's premium billing it answers (unique).
    premium_billing_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    lines: Mapped[list[InvoiceLine]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="InvoiceLine.position"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def balance_due(self) -> Decimal:
        return domain.balance_due(self.patient_amount, self.credited_amount, self.amount_paid)


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(f"{cents('unit_price')} >= 0", name="unit_price_not_negative"),
        CheckConstraint(f"{cents('amount')} = quantity * {cents('unit_price')}", name="amount_is_quantity_times_price"),
        Index(ONE_LINE_PER_RECORD, "source_record_id", unique=True),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("billing.invoices.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    # The medical record (a procedure) this line bills, if any: unique, so it is never billed twice.
    source_record_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class CreditNote(Base):
    """A credit note: its own gapless-numbered document (`CN-2026-000001`) that reduces an invoice's patient share
    by `amount`, never an edit of the invoice's lines or total. The invoice's `credited_amount` is their sum."""

    __tablename__ = "credit_notes"
    __table_args__ = (
        CheckConstraint(f"{cents('amount')} > 0", name="amount_positive"),
        Index("ix_credit_notes_invoice_id_number", "invoice_id", "number"),
        Index("ix_credit_notes_patient_id", "patient_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("billing.invoices.id", ondelete="RESTRICT"))
    # The invoice's patient (another context's id): who may read the credit note.
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
