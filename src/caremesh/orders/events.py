"""Integration events of orders. On the wire ids are UUID strings, instants RFC 3339 UTC.

The saga of an order (see service.py): `OrderPlaced` asks pharmacy (prescriptions) or lab (lab orders) to take
the first step; their answers come back as their events; billing is called through its contract.
`OrderFailed` and `OrderCancelled` ask pharmacy and lab to compensate: release what the order holds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal, get_args

from caremesh.platform.messaging.events import IntegrationEvent

OrderType = Literal["prescription", "lab"]
# The events that close an order before it completes: pharmacy and lab give back what they hold for it and say
# which of the two it was.
ClosingEvent = Literal["order.failed", "order.cancelled"]
CLOSING_EVENTS: tuple[ClosingEvent, ...] = get_args(ClosingEvent)


@dataclass(frozen=True, kw_only=True)
class PrescriptionItem:
    medication_id: uuid.UUID
    quantity: int
    dosage: str | None


@dataclass(frozen=True, kw_only=True)
class LabItem:
    lab_test_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class _OrderEvent(IntegrationEvent):
    order_id: uuid.UUID
    number: str
    patient_id: uuid.UUID
    type: OrderType


@dataclass(frozen=True, kw_only=True)
class OrderPlaced(_OrderEvent):
    event_type: ClassVar[str] = "order.placed"

    practitioner_id: uuid.UUID
    items: tuple[PrescriptionItem, ...] | tuple[LabItem, ...]  # as the order's `type` says
    placed_at: datetime


@dataclass(frozen=True, kw_only=True)
class OrderConfirmed(_OrderEvent):
    event_type: ClassVar[str] = "order.confirmed"

    invoice_id: uuid.UUID
    confirmed_at: datetime


@dataclass(frozen=True, kw_only=True)
class OrderFailed(_OrderEvent):
    event_type: ClassVar[str] = "order.failed"

    failure_reason: str | None  # orders always sets it; notifications words a message without one
    failed_at: datetime


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(_OrderEvent):
    event_type: ClassVar[str] = "order.cancelled"

    reason: str | None
    cancelled_at: datetime


@dataclass(frozen=True, kw_only=True)
class OrderCompleted(_OrderEvent):
    event_type: ClassVar[str] = "order.completed"

    completed_at: datetime


ORDER_PLACED = OrderPlaced.event_type
ORDER_CONFIRMED = OrderConfirmed.event_type
ORDER_FAILED = OrderFailed.event_type
ORDER_CANCELLED = OrderCancelled.event_type
ORDER_COMPLETED = OrderCompleted.event_type
