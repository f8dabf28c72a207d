"""What other contexts may use of payments: the event names (payloads in `caremesh.payments.events`) and the
payments of an invoice (`payments_of_invoice`, for a printed invoice)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.payments.domain import PaymentStatus, RefundStatus
from caremesh.payments.events import (
    PAYMENT_COMPLETED,
    PAYMENT_FAILED,
    PAYMENT_REFUNDED,
    PaymentCompleted,
    PaymentFailed,
    PaymentRefunded,
)
from caremesh.payments.models import Payment, Refund

__all__ = [
    "PAYMENT_COMPLETED",
    "PAYMENT_FAILED",
    "PAYMENT_REFUNDED",
    "PaymentCompleted",
    "PaymentFailed",
    "PaymentRefunded",
    "PaymentSummary",
    "RefundSummary",
    "payments_of_invoice",
]


# --- read-only lookups ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundSummary:
    reference: str
    amount: Decimal
    created_at: datetime


@dataclass(frozen=True)
class PaymentSummary:
    """A completed payment of an invoice and its completed refunds (what a printed invoice lists)."""

    id: uuid.UUID
    reference: str
    amount: Decimal
    currency: str
    method: str
    created_at: datetime
    refunds: tuple[RefundSummary, ...]


_COMPLETED_OF_INVOICE = (
    select(Payment)
    .where(Payment.invoice_id == bindparam("invoice_id"), Payment.status == PaymentStatus.COMPLETED)
    .order_by(Payment.created_at, Payment.reference)
)
_COMPLETED_REFUNDS_OF = (
    select(Refund)
    .join(Payment, Refund.payment_id == Payment.id)
    .where(Payment.invoice_id == bindparam("invoice_id"), Refund.status == RefundStatus.COMPLETED)
    .order_by(Refund.created_at, Refund.reference)
)


async def payments_of_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> list[PaymentSummary]:
    """The invoice's completed payments, oldest first, each with its completed refunds. Checks no principal: the
    caller has already been allowed to read the invoice."""
    refunds: dict[uuid.UUID, list[RefundSummary]] = {}
    for refund in await session.scalars(_COMPLETED_REFUNDS_OF, {"invoice_id": invoice_id}):
        assert refund.reference is not None  # completed refunds are numbered
        refunds.setdefault(refund.payment_id, []).append(
            RefundSummary(reference=refund.reference, amount=refund.amount, created_at=refund.created_at)
        )
    return [
        PaymentSummary(
            id=payment.id,
            reference=payment.reference or "",
            amount=payment.amount,
            currency=payment.currency,
            method=payment.method,
            created_at=payment.created_at,
            refunds=tuple(refunds.get(payment.id, ())),
        )
        for payment in await session.scalars(_COMPLETED_OF_INVOICE, {"invoice_id": invoice_id})
    ]
