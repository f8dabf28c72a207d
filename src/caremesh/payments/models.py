"""Payments and refunds; the Idempotency-Keys that make their creation safe to retry are the platform's.

Invoice and patient are billing's and patients' ids, never foreign keys. Money checks compare integer
cents (`cents`), because Money is text on SQLite.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.payments.domain import Method, PaymentStatus, RefundStatus
from caremesh.platform.db import Base, Money, UTCDateTime, new_id, quoted_list
from caremesh.platform.money import cents_sql

cents = cents_sql


class Payment(Base):
    """Money received against an invoice. `pending` while the gateway is asked (its amount is then
    reserved on the invoice); `reference` is numbered when the outcome is known (gaps: docs/DECISIONS.md, issue 13)."""

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_invoice_created", "invoice_id", "created_at", "id"),
        Index("ix_payments_patient_created", "patient_id", "created_at", "id"),
        Index("ix_payments_created", "created_at", "id"),
        CheckConstraint(f"status IN ({quoted_list(PaymentStatus)})", name="status_known"),
        CheckConstraint(f"method IN ({quoted_list(Method)})", name="method_known"),
        CheckConstraint(f"{cents('amount')} > 0", name="amount_positive"),
        CheckConstraint(
            f"{cents('refunded_amount')} >= 0 AND {cents('refunded_amount')} <= {cents('amount')}",
            name="refunds_within_amount",
        ),
        CheckConstraint(f"status = 'completed' OR {cents('refunded_amount')} = 0", name="refunds_only_completed"),
        CheckConstraint("(status = 'pending') = (reference IS NULL)", name="reference_when_final"),
        CheckConstraint("(status = 'failed') = (failure_reason IS NOT NULL)", name="failure_reason_when_failed"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    gateway_reference: Mapped[str | None] = mapped_column(String(100))
    refunded_amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Refund(Base):
    """Money given back from a payment; its amount counts in the payment's `refunded_amount` from the
    moment it is created, so concurrent refunds cannot together exceed the payment."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(f"status IN ({quoted_list(RefundStatus)})", name="status_known"),
        CheckConstraint(f"{cents('amount')} > 0", name="amount_positive"),
        CheckConstraint("(status = 'pending') = (reference IS NULL)", name="reference_when_final"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    payment_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("payments.payments.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))
    gateway_reference: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
