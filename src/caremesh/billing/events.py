"""Integration events of billing. On the wire amounts are strings with two decimals, ids UUID strings,
instants RFC 3339 UTC (see platform/messaging/events.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from caremesh.platform.messaging.events import IntegrationEvent, integration_event


@dataclass(frozen=True, kw_only=True)
class _InvoiceEvent(IntegrationEvent):
    """The invoice an event is about (its fields come first on the wire)."""

    invoice_id: uuid.UUID
    number: str
    patient_id: uuid.UUID


@integration_event("invoice.issued")
class InvoiceIssued(_InvoiceEvent):
    appointment_id: uuid.UUID | None
    order_id: uuid.UUID | None
    subtotal: Decimal
    discount_amount: Decimal
    tax_amount: Decimal
    total: Decimal
    insurance_amount: Decimal
    patient_amount: Decimal
    balance_due: Decimal
    currency: str | None  # billing always sets it; a consumer falls back to the clinic's when it is missing
    issued_at: datetime
    kind: str | None = None  # billing.contract.Kind; missing in events published before it was added
    premium_billing_id: uuid.UUID | None = None  # a premium invoice: insurance's PremiumBilled it answers


@integration_event("invoice.paid")
class InvoicePaid(_InvoiceEvent):
    total: Decimal
    patient_amount: Decimal
    amount_paid: Decimal
    currency: str
    paid_at: datetime
    kind: str | None = None  # as on InvoiceIssued
    premium_billing_id: uuid.UUID | None = None  # as on InvoiceIssued: a paid premium accrues its agent's commission
    # Credit notes that settled part of it (paid means payments plus credit cover the patient's share).
    credited_amount: Decimal | None = None


@integration_event("invoice.voided")
class InvoiceVoided(_InvoiceEvent):
    appointment_id: uuid.UUID | None
    order_id: uuid.UUID | None
    reason: str | None
    voided_at: datetime


@integration_event("credit_note.issued")
class CreditNoteIssued(IntegrationEvent):
    """A credit note reduced an invoice's patient share by `amount`."""

    credit_note_id: uuid.UUID
    number: str
    invoice_id: uuid.UUID
    invoice_number: str
    patient_id: uuid.UUID
    amount: Decimal
    currency: str
    reason: str
    balance_due: Decimal  # the invoice's, after this credit note
    kind: str  # the invoice's kind
    issued_at: datetime


INVOICE_ISSUED = InvoiceIssued.event_type
INVOICE_PAID = InvoicePaid.event_type
INVOICE_VOIDED = InvoiceVoided.event_type
CREDIT_NOTE_ISSUED = CreditNoteIssued.event_type
