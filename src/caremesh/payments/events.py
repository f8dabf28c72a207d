"""Integration events of payments. On the wire amounts are strings with two decimals, ids UUID strings.

`reference` is the event's own record's number (PAY-… for a payment, RFD-… for a refund); `balance_due`
is the invoice's balance after the payment or refund.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from caremesh.platform.messaging.events import IntegrationEvent, integration_event


@dataclass(frozen=True, kw_only=True)
class _PaymentEvent(IntegrationEvent):
    payment_id: uuid.UUID
    reference: str
    invoice_id: uuid.UUID
    invoice_number: str
    patient_id: uuid.UUID
    amount: Decimal
    method: str
    currency: str


@integration_event("payment.completed")
class PaymentCompleted(_PaymentEvent):
    balance_due: Decimal
    created_at: datetime


@integration_event("payment.failed")
class PaymentFailed(_PaymentEvent):
    failure_reason: str | None
    created_at: datetime


@integration_event("payment.refunded")
class PaymentRefunded(IntegrationEvent):
    refund_id: uuid.UUID
    reference: str
    payment_id: uuid.UUID
    payment_reference: str
    invoice_id: uuid.UUID
    invoice_number: str
    patient_id: uuid.UUID
    amount: Decimal
    currency: str
    reason: str
    balance_due: Decimal
    created_at: datetime


PAYMENT_COMPLETED = PaymentCompleted.event_type
PAYMENT_FAILED = PaymentFailed.event_type
PAYMENT_REFUNDED = PaymentRefunded.event_type
