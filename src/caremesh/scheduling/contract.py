"""What other contexts may use of scheduling: read-only queries and the event names."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform.mapping import from_attributes
from caremesh.platform.pagination import PageParams
from caremesh.platform.timeutil import clinic_timezone
from caremesh.platform.uow import UnitOfWork
from caremesh.scheduling import domain, service
from caremesh.scheduling.domain import (
    DEFAULT_DURATION_MINUTES,
    MAX_DURATION_MINUTES,
    MIN_DURATION_MINUTES,
    Interval,
    Status,
    WeeklyWindow,
)
from caremesh.scheduling.errors import AppointmentNotFound
from caremesh.scheduling.events import (
    APPOINTMENT_BOOKED,
    APPOINTMENT_CANCELLED,
    APPOINTMENT_CHECKED_IN,
    APPOINTMENT_COMPLETED,
    APPOINTMENT_NO_SHOW,
    APPOINTMENT_RESCHEDULED,
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentCheckedIn,
    AppointmentCompleted,
    AppointmentNoShow,
    AppointmentRescheduled,
)
from caremesh.scheduling.models import Appointment
from caremesh.scheduling.schemas import AppointmentFilters

__all__ = [
    "APPOINTMENT_BOOKED",
    "APPOINTMENT_CANCELLED",
    "APPOINTMENT_CHECKED_IN",
    "APPOINTMENT_COMPLETED",
    "APPOINTMENT_NO_SHOW",
    "APPOINTMENT_RESCHEDULED",
    "DEFAULT_DURATION_MINUTES",
    "MAX_DURATION_MINUTES",
    "MIN_DURATION_MINUTES",
    "AppointmentBooked",
    "AppointmentCancelled",
    "AppointmentCheckedIn",
    "AppointmentCompleted",
    "AppointmentNoShow",
    "AppointmentNotFound",
    "AppointmentRescheduled",
    "AppointmentStatus",
    "AppointmentSummary",
    "count_active_appointments",
    "count_completed_before",
    "count_open_appointments",
    "find_appointment",
    "free_slots",
]

AppointmentStatus = Status  # the vocabulary of an appointment's `status`, for the contexts that read it


@dataclass(frozen=True)
class AppointmentSummary:
    """The appointment's columns of the same names; `status` is an `AppointmentStatus` value."""

    id: uuid.UUID
    number: str
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    specialty: str
    start_at: datetime
    end_at: datetime
    duration_minutes: int
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    completed_at: datetime | None


async def find_appointment(
    session: AsyncSession, appointment_id: uuid.UUID, *, lock: bool = False
) -> AppointmentSummary | None:
    """The appointment, or None. `lock` takes a shared row lock (PostgreSQL): its status cannot change
    (no cancellation, no completion) until the caller's transaction ends; billing prices under it."""
    query = select(Appointment).where(Appointment.id == appointment_id)
    if lock:
        query = query.with_for_update(read=True)
    appointment = await session.scalar(query.execution_options(populate_existing=True))
    if appointment is None:
        return None
    return from_attributes(AppointmentSummary, appointment)


async def _count(session: AsyncSession, *conditions: object) -> int:
    return await session.scalar(select(func.count()).select_from(Appointment).where(*conditions)) or 0


async def count_open_appointments(
    session: AsyncSession, *, patient_id: uuid.UUID | None = None, practitioner_id: uuid.UUID | None = None
) -> int:
    """Scheduled or checked-in appointments of the patient and/or practitioner."""
    if patient_id is None and practitioner_id is None:
        raise ValueError("name a patient_id or a practitioner_id")
    conditions = [Appointment.status.in_(domain.OPEN)]
    if patient_id is not None:
        conditions.append(Appointment.patient_id == patient_id)
    if practitioner_id is not None:
        conditions.append(Appointment.practitioner_id == practitioner_id)
    return await _count(session, *conditions)


async def count_active_appointments(session: AsyncSession, *, practitioner_id: uuid.UUID) -> int:
    """Appointments of the practitioner in any status but cancelled (their history must stay resolvable)."""
    return await _count(session, Appointment.practitioner_id == practitioner_id, Appointment.status != Status.CANCELLED)


async def count_completed_before(session: AsyncSession, patient_id: uuid.UUID, before: datetime) -> int:
    """The patient's completed appointments that started strictly before `before` (API.md's prior visits).

    Billing passes the start of the visit it prices, so that visit never counts towards itself, and
    the order in which visits were marked completed does not matter.
    """
    return await _count(
        session,
        Appointment.patient_id == patient_id,
        Appointment.status == Status.COMPLETED,
        Appointment.start_at < before,
    )


async def busy_intervals(session: AsyncSession, *, practitioner_id: uuid.UUID, within: Interval) -> list[Interval]:
    """Time the practitioner's non-cancelled appointments take inside `within`, in order."""
    rows = await session.execute(
        select(Appointment.start_at, Appointment.end_at)
        .where(
            Appointment.practitioner_id == practitioner_id,
            Appointment.status != Status.CANCELLED,
            Appointment.start_at < within.end,
            Appointment.end_at > within.start,
        )
        .order_by(Appointment.start_at)
    )
    return [Interval(start, end) for start, end in rows]


async def free_slots(
    session: AsyncSession,
    *,
    practitioner_id: uuid.UUID,
    working_hours: Iterable[WeeklyWindow],
    day: date,
    duration_minutes: int,
    now: datetime,
) -> list[tuple[datetime, datetime]]:
    """Bookable (start, end) slots on a clinic-local day: inside working hours, stepping by the
    duration from each window's start, not before `now`, and clear of the practitioner's bookings."""
    windows = domain.day_windows(working_hours, day, clinic_timezone())
    if not windows:
        return []
    busy = await busy_intervals(
        session, practitioner_id=practitioner_id, within=Interval(windows[0].start, windows[-1].end)
    )
    slots = domain.free_slots(windows, timedelta(minutes=duration_minutes), busy, not_before=now)
    return [(slot.start, slot.end) for slot in slots]


async def recent_appointments(session: AsyncSession, patient_id: uuid.UUID, *, limit: int) -> list[AppointmentSummary]:
    """The patient's latest appointments that were not cancelled (a patient's recent encounters), newest first."""
    rows = await session.scalars(
        select(Appointment)
        .where(Appointment.patient_id == patient_id, Appointment.status != Status.CANCELLED)
        .order_by(Appointment.start_at.desc(), Appointment.id.desc())
        .limit(limit)
    )
    return [from_attributes(AppointmentSummary, row) for row in rows]


__all__ += ["recent_appointments"]


# --- issue 17: reads for the FHIR facade, through the same use cases as GET /appointments (scoping and audit) ---


@dataclass(frozen=True)
class AppointmentRecord(AppointmentSummary):
    """An appointment as `GET /appointments/{id}` shows it: the summary, its reason and why it was cancelled."""

    reason: str | None
    cancellation_reason: str | None


async def read_appointment(uow: UnitOfWork, appointment_id: uuid.UUID) -> AppointmentRecord:
    """Only if the principal may see it (a patient: their own), audited as `appointment.read`; else
    AppointmentNotFound."""
    return from_attributes(AppointmentRecord, await service.get_appointment(uow, appointment_id))


async def search_appointments(
    uow: UnitOfWork,
    *,
    patient_id: uuid.UUID | None = None,
    practitioner_id: uuid.UUID | None = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[AppointmentRecord], str | None]:
    """One page of what `GET /appointments` lists with these filters (starting in [start_from, start_to)), in order
    of start, scoped and audited as it is; and the next cursor."""
    filters = AppointmentFilters(
        patient_id=patient_id, practitioner_id=practitioner_id, start_from=start_from, start_to=start_to
    )
    rows, next_cursor = await service.list_appointments(uow, filters, PageParams(limit=limit, cursor=cursor))
    return [from_attributes(AppointmentRecord, row) for row in rows], next_cursor


__all__ += ["AppointmentRecord", "read_appointment", "search_appointments"]
