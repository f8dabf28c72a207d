"""Integration events of scheduling. Payloads carry ids, times and status, never clinical notes. On the wire
ids are UUID strings, instants RFC 3339 UTC."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from caremesh.platform.messaging.events import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class _AppointmentEvent(IntegrationEvent):
    appointment_id: uuid.UUID
    number: str
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    specialty: str
    start: datetime
    end: datetime
    duration_minutes: int
    status: str


@dataclass(frozen=True, kw_only=True)
class AppointmentBooked(_AppointmentEvent):
    event_type: ClassVar[str] = "appointment.booked"


@dataclass(frozen=True, kw_only=True)
class AppointmentRescheduled(_AppointmentEvent):
    event_type: ClassVar[str] = "appointment.rescheduled"

    previous_start: datetime
    previous_end: datetime


@dataclass(frozen=True, kw_only=True)
class AppointmentCheckedIn(_AppointmentEvent):
    event_type: ClassVar[str] = "appointment.checked_in"

    checked_in_at: datetime


@dataclass(frozen=True, kw_only=True)
class AppointmentCompleted(_AppointmentEvent):
    event_type: ClassVar[str] = "appointment.completed"

    started_at: datetime
    ended_at: datetime
    completed_at: datetime


@dataclass(frozen=True, kw_only=True)
class AppointmentCancelled(_AppointmentEvent):
    event_type: ClassVar[str] = "appointment.cancelled"

    reason: str | None


@dataclass(frozen=True, kw_only=True)
class AppointmentNoShow(_AppointmentEvent):
    event_type: ClassVar[str] = "appointment.no_show"


APPOINTMENT_BOOKED = AppointmentBooked.event_type
APPOINTMENT_RESCHEDULED = AppointmentRescheduled.event_type
APPOINTMENT_CHECKED_IN = AppointmentCheckedIn.event_type
APPOINTMENT_COMPLETED = AppointmentCompleted.event_type
APPOINTMENT_CANCELLED = AppointmentCancelled.event_type
APPOINTMENT_NO_SHOW = AppointmentNoShow.event_type
