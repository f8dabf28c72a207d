"""Pure rules of payments: methods and statuses, refundable amounts and when an unfinished request counts
as abandoned. The Idempotency-Key format and the request fingerprint are the platform's (`platform.idempotency`)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

# The largest amount NUMERIC(14,2) holds.
MAX_AMOUNT = Decimal("999999999999.99")


class Method(StrEnum):
    CASH = "cash"
    CARD = "card"
    UPI = "upi"
    BANK_TRANSFER = "bank_transfer"


class PaymentStatus(StrEnum):
    PENDING = "pending"  # reserved on the invoice, waiting for the gateway; never shown by the API
    COMPLETED = "completed"
    FAILED = "failed"


class RefundStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"


def goes_through_gateway(method: Method) -> bool:
    """Cards are charged by the gateway; cash, UPI and bank transfers are recorded as received."""
    return method is Method.CARD


def refundable(amount: Decimal, refunded: Decimal) -> Decimal:
    """What of a payment may still be given back."""
    return max(amount - refunded, Decimal("0.00"))


class RefundRefusal(StrEnum):
    NOT_REFUNDABLE = "not_refundable"
    EXCEEDS_PAYMENT = "exceeds_payment"


def refund_refusal(
    status: PaymentStatus, amount: Decimal, refunded: Decimal, requested: Decimal
) -> RefundRefusal | None:
    """Why `requested` may not be refunded from this payment, or None when it may."""
    if status is not PaymentStatus.COMPLETED:
        return RefundRefusal.NOT_REFUNDABLE
    if requested > refundable(amount, refunded):
        return RefundRefusal.EXCEEDS_PAYMENT
    return None


def abandoned_after(wait_seconds: float, gateway_timeout_seconds: float) -> timedelta:
    """How old an unfinished attempt must be before another request with its key may take it over.

    Never sooner than the gateway timeout: a live attempt's gateway call has ended by then, so the
    takeover cannot race an answer still on its way.
    """
    return timedelta(seconds=max(wait_seconds, gateway_timeout_seconds))
