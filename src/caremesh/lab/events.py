"""Integration events of lab. On the wire ids are UUID strings, money strings with two decimals, dates
YYYY-MM-DD, instants RFC 3339 UTC.

`LabScheduled` lists one lab order per order item, in the order's item order. `LabSchedulingFailed`: nothing
of the order stays booked; `cancelled` lists what was booked for it in the same transaction and given back.
`LabCancelled` is published only when something was cancelled. Results never travel in events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from caremesh.orders.contract import ClosingEvent
from caremesh.platform.capacity.booking import Announcements
from caremesh.platform.fulfilment import OrderAnswer
from caremesh.platform.messaging.events import IntegrationEvent, integration_event


@dataclass(frozen=True, kw_only=True)
class ScheduledLabOrder:
    lab_order_id: uuid.UUID
    lab_test_id: uuid.UUID
    code: str
    name: str
    price: Decimal
    currency: str
    scheduled_date: date


@dataclass(frozen=True, kw_only=True)
class BookedLabOrder:
    lab_order_id: uuid.UUID
    lab_test_id: uuid.UUID
    scheduled_date: date


@integration_event("lab.scheduled")
class LabScheduled(OrderAnswer):
    lab_orders: tuple[ScheduledLabOrder, ...]
    scheduled_at: datetime


@integration_event("lab.scheduling_failed")
class LabSchedulingFailed(OrderAnswer):
    failure_reason: Literal["NO_LAB_CAPACITY", "LAB_TEST_NOT_FOUND"]  # domain.SchedulingFailure
    lab_test_id: uuid.UUID
    cancelled: tuple[BookedLabOrder, ...]
    failed_at: datetime


@integration_event("lab.cancelled")
class LabCancelled(OrderAnswer):
    lab_orders: tuple[BookedLabOrder, ...]
    reason: ClosingEvent
    cancelled_at: datetime


@integration_event("lab.result_ready")
class LabResultReady(IntegrationEvent):
    lab_order_id: uuid.UUID
    order_id: uuid.UUID
    patient_id: uuid.UUID
    lab_test_id: uuid.UUID
    order_fully_resulted: bool
    resulted_at: datetime


# How lab answers the order saga (see `platform.capacity.booking`).
ANNOUNCEMENTS = Announcements(
    scheduled=LabScheduled,
    refused=LabSchedulingFailed,
    cancelled=LabCancelled,
    booked_item=BookedLabOrder,
    scheduled_item=ScheduledLabOrder,
)

LAB_SCHEDULED = LabScheduled.event_type
LAB_SCHEDULING_FAILED = LabSchedulingFailed.event_type
LAB_CANCELLED = LabCancelled.event_type
LAB_RESULT_READY = LabResultReady.event_type
