"""Integration events of scheduling. Payloads carry ids, times and status, never clinical notes. On the wire
ids are UUID strings, instants RFC 3339 UTC."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from caremesh.platform.messaging.events import IntegrationEvent, integration_event


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


@integration_event("appointment.booked")
class AppointmentBooked(_AppointmentEvent):
    pass


@integration_event("appointment.rescheduled")
class AppointmentRescheduled(_AppointmentEvent):
    previous_start: datetime
    previous_end: datetime


@integration_event("appointment.checked_in")
class AppointmentCheckedIn(_AppointmentEvent):
    checked_in_at: datetime


@integration_event("appointment.completed")
class AppointmentCompleted(_AppointmentEvent):
    started_at: datetime
    ended_at: datetime
    completed_at: datetime


@integration_event("appointment.cancelled")
class AppointmentCancelled(_AppointmentEvent):
    reason: str | None


@integration_event("appointment.no_show")
class AppointmentNoShow(_AppointmentEvent):
    pass


APPOINTMENT_BOOKED = AppointmentBooked.event_type
APPOINTMENT_RESCHEDULED = AppointmentRescheduled.event_type
APPOINTMENT_CHECKED_IN = AppointmentCheckedIn.event_type
APPOINTMENT_COMPLETED = AppointmentCompleted.event_type
APPOINTMENT_CANCELLED = AppointmentCancelled.event_type
APPOINTMENT_NO_SHOW = AppointmentNoShow.event_type
