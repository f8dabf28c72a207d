"""Integration events of billing. On the wire amounts are strings with two decimals, ids UUID strings,
instants RFC 3339 UTC (see platform/messaging/events.py)."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from caremesh.platform.messaging.events import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class _InvoiceEvent(IntegrationEvent):
    """The invoice an event is about (its fields come first on the wire)."""

    invoice_id: uuid.UUID
    number: str
    patient_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class InvoiceIssued(_InvoiceEvent):
    event_type: ClassVar[str] = "invoice.issued"

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


@dataclass(frozen=True, kw_only=True)
class InvoicePaid(_InvoiceEvent):
    event_type: ClassVar[str] = "invoice.paid"

    total: Decimal
    patient_amount: Decimal
    amount_paid: Decimal
    currency: str
    paid_at: datetime


@dataclass(frozen=True, kw_only=True)
class InvoiceVoided(_InvoiceEvent):
    event_type: ClassVar[str] = "invoice.voided"

    appointment_id: uuid.UUID | None
    order_id: uuid.UUID | None
    reason: str | None
    voided_at: datetime


INVOICE_ISSUED = InvoiceIssued.event_type
INVOICE_PAID = InvoicePaid.event_type
INVOICE_VOIDED = InvoiceVoided.event_type


T = TypeVar("T")


def from_attributes(cls: type[T], row: object, **given: Any) -> T:
    """The dataclass `cls` (an event, a contract's summary) with every field not `given` read from the attribute of
    `row` of the same name: the dataclasses' counterpart of `model_validate(row, from_attributes=True)`."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    read = {field.name: getattr(row, field.name) for field in fields if field.name not in given}
    return cls(**read, **given)
