"""Payments and refunds; the Idempotency-Keys that make their creation safe to retry are the platform's.

Invoice and patient are billing's and patients' ids, never foreign keys. Money checks compare integer
cents (`cents`), because Money is text on SQLite.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.payments.domain import Method, MethodType, PaymentStatus, RefundStatus, SettlementStatus
from caremesh.platform.db import Base, Money, UTCDateTime, new_id, partial_index, quoted_list
from caremesh.platform.money import cents_sql

cents = cents_sql


class PaymentMethod(Base):
    """A patient's stored card (the gateway's token, never a number) or UPI handle. Deleting one only marks it
    (`deleted_at`): the payments made with it stay readable, and it can no longer be listed or used."""

    __tablename__ = "payment_methods"
    __table_args__ = (
        CheckConstraint(f"type IN ({quoted_list(MethodType)})", name="type_known"),
        CheckConstraint("last4 IS NULL OR length(last4) = 4", name="last4_four_digits"),
        CheckConstraint(f"type = '{MethodType.CARD.value}' OR last4 IS NULL", name="last4_only_cards"),
        Index("ix_payment_methods_patient_created", "patient_id", "created_at", "id"),
        # A patient stores a token once (a deleted method may be stored again).
        partial_index(
            "uq_payment_methods_live_token", "patient_id", "type", "token", where="deleted_at IS NULL", unique=True
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    type: Mapped[str] = mapped_column(String(10))
    token: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(100))
    last4: Mapped[str | None] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Settlement(Base):
    """A clinic day of the daily settlement. The row exists once anything completed on the day or someone closed
    it; payments and refunds completing on the day hold it locked in share mode while they take the day as their
    `settlement_date`, and closing locks it exclusively, so a day is never closed under a refund joining it.
    Once closed, `figures` is the frozen snapshot the API answers from then on."""

    __tablename__ = "settlements"
    __table_args__ = (
        CheckConstraint(f"status IN ({quoted_list(SettlementStatus)})", name="status_known"),
        CheckConstraint(
            "(status = 'closed') = (figures IS NOT NULL AND closed_at IS NOT NULL AND closed_by IS NOT NULL)",
            name="frozen_when_closed",
        ),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    figures: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the user who closed it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
    # The stored method it was paid with, if any. No foreign key (migration 0026): methods are never deleted, only
    # marked, so the id always resolves.
    payment_method_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # The clinic day it counts on in the daily settlement, given when it completes (settlements.py).
    settlement_date: Mapped[date | None] = mapped_column(Date, index=True)
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
    settlement_date: Mapped[date | None] = mapped_column(Date, index=True)  # as a payment's
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
