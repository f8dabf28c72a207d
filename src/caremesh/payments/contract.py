"""What other contexts may use of payments: the event names (payloads in `caremesh.payments.events`)."""

from __future__ import annotations

from caremesh.payments.events import (
    PAYMENT_COMPLETED,
    PAYMENT_FAILED,
    PAYMENT_REFUNDED,
    PaymentCompleted,
    PaymentFailed,
    PaymentRefunded,
)

__all__ = [
    "PAYMENT_COMPLETED",
    "PAYMENT_FAILED",
    "PAYMENT_REFUNDED",
    "PaymentCompleted",
    "PaymentFailed",
    "PaymentRefunded",
]
