"""Integration events of pharmacy. On the wire ids are UUID strings, money strings with two decimals,
instants RFC 3339 UTC.

`MedicationReserved` lists one reservation per order item, in the order's item order.
`MedicationReservationFailed`: nothing of the order stays reserved; `released` lists what was reserved for it in
the same transaction and given back. `MedicationReleased` is published only when something was released.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from caremesh.orders.contract import ClosingEvent
from caremesh.platform.fulfilment import OrderAnswer
from caremesh.platform.messaging.events import integration_event


@dataclass(frozen=True, kw_only=True)
class ReservedLine:
    reservation_id: uuid.UUID
    medication_id: uuid.UUID
    code: str
    name: str
    unit: str
    quantity: int
    unit_price: Decimal
    currency: str


@dataclass(frozen=True, kw_only=True)
class ReleasedLine:
    reservation_id: uuid.UUID
    medication_id: uuid.UUID
    quantity: int


@integration_event("medication.reserved")
class MedicationReserved(OrderAnswer):
    reservations: tuple[ReservedLine, ...]
    reserved_at: datetime


@integration_event("medication.reservation_failed")
class MedicationReservationFailed(OrderAnswer):
    failure_reason: Literal["INSUFFICIENT_STOCK", "MEDICATION_NOT_FOUND"]  # domain.FailureReason
    medication_id: uuid.UUID
    requested: int
    available: int
    released: tuple[ReleasedLine, ...]
    failed_at: datetime


@integration_event("medication.released")
class MedicationReleased(OrderAnswer):
    reservations: tuple[ReleasedLine, ...]
    reason: ClosingEvent
    released_at: datetime


@integration_event("medication.dispensed")
class MedicationDispensed(OrderAnswer):
    reservation_id: uuid.UUID
    medication_id: uuid.UUID
    quantity: int
    order_fully_dispensed: bool
    dispensed_at: datetime


MEDICATION_RESERVED = MedicationReserved.event_type
MEDICATION_RESERVATION_FAILED = MedicationReservationFailed.event_type
MEDICATION_RELEASED = MedicationReleased.event_type
MEDICATION_DISPENSED = MedicationDispensed.event_type
