"""Integration events of imaging. On the wire ids are UUID strings, money strings with two decimals, dates
YYYY-MM-DD, instants RFC 3339 UTC.

`ImagingScheduled` lists one imaging order per order item, in the order's item order. `ImagingSchedulingFailed`:
nothing of the order stays booked; `cancelled` lists what was booked for it in the same transaction and given back.
`ImagingCancelled` is published only when something was cancelled. Reports never travel in events.
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
class ScheduledImagingOrder:
    imaging_order_id: uuid.UUID
    imaging_study_id: uuid.UUID
    code: str
    name: str
    modality: str
    price: Decimal
    currency: str
    scheduled_date: date


@dataclass(frozen=True, kw_only=True)
class BookedImagingOrder:
    imaging_order_id: uuid.UUID
    imaging_study_id: uuid.UUID
    scheduled_date: date


@integration_event("imaging.scheduled")
class ImagingScheduled(OrderAnswer):
    imaging_orders: tuple[ScheduledImagingOrder, ...]
    scheduled_at: datetime


@integration_event("imaging.scheduling_failed")
class ImagingSchedulingFailed(OrderAnswer):
    failure_reason: Literal["NO_IMAGING_CAPACITY", "IMAGING_STUDY_NOT_FOUND"]  # domain.SchedulingFailure
    imaging_study_id: uuid.UUID
    cancelled: tuple[BookedImagingOrder, ...]
    failed_at: datetime


@integration_event("imaging.cancelled")
class ImagingCancelled(OrderAnswer):
    imaging_orders: tuple[BookedImagingOrder, ...]
    reason: ClosingEvent
    cancelled_at: datetime


@integration_event("imaging.reported")
class ImagingReported(IntegrationEvent):
    imaging_order_id: uuid.UUID
    order_id: uuid.UUID
    patient_id: uuid.UUID
    imaging_study_id: uuid.UUID
    order_fully_reported: bool
    reported_at: datetime


# How imaging answers the order saga (see `platform.capacity.booking`).
ANNOUNCEMENTS = Announcements(
    scheduled=ImagingScheduled,
    refused=ImagingSchedulingFailed,
    cancelled=ImagingCancelled,
    booked_item=BookedImagingOrder,
    scheduled_item=ScheduledImagingOrder,
)
