"""Integration events of orders. On the wire ids are UUID strings, instants RFC 3339 UTC.

The saga of an order (see service.py): `OrderPlaced` asks pharmacy (prescriptions), lab (lab orders) or imaging
(imaging orders) to take the first step; their answers come back as their events; billing is called through its
contract. `OrderFailed` and `OrderCancelled` ask them to compensate: release what the order holds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from caremesh.platform.messaging.events import IntegrationEvent, integration_event

OrderType = Literal["prescription", "lab", "imaging"]
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
class ImagingItem:
    imaging_study_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class _OrderEvent(IntegrationEvent):
    order_id: uuid.UUID
    number: str
    patient_id: uuid.UUID
    type: OrderType


@integration_event("order.placed")
class OrderPlaced(_OrderEvent):
    practitioner_id: uuid.UUID
    items: tuple[PrescriptionItem, ...] | tuple[LabItem, ...] | tuple[ImagingItem, ...]  # as the order's `type` says
    placed_at: datetime


@integration_event("order.confirmed")
class OrderConfirmed(_OrderEvent):
    invoice_id: uuid.UUID
    confirmed_at: datetime


@integration_event("order.failed")
class OrderFailed(_OrderEvent):
    failure_reason: str | None  # orders always sets it; notifications words a message without one
    failed_at: datetime


@integration_event("order.cancelled")
class OrderCancelled(_OrderEvent):
    reason: str | None
    cancelled_at: datetime


@integration_event("order.completed")
class OrderCompleted(_OrderEvent):
    completed_at: datetime


ORDER_PLACED = OrderPlaced.event_type
ORDER_CONFIRMED = OrderConfirmed.event_type
ORDER_FAILED = OrderFailed.event_type
ORDER_CANCELLED = OrderCancelled.event_type
ORDER_COMPLETED = OrderCompleted.event_type
