"""Use cases of scheduling. They flush; the entrypoint commits.

No overlapping appointments is the database's invariant (see the scheduling migration). The
checks here run first so that a request gets the right error in the documented order; the
constraint decides the races those checks cannot see.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, TypeVar

from prometheus_client import Counter
from sqlalchemy import ColumnElement, Select, bindparam, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified

from caremesh.audit import contract as audit
from caremesh.patients import contract as patients
from caremesh.platform.db import serialise, violates
from caremesh.platform.errors import invalid_field
from caremesh.platform.mapping import from_attributes
from caremesh.platform.numbering import next_number
from caremesh.platform.repository import Repository
from caremesh.platform.timeutil import clinic_date, clinic_timezone
from caremesh.platform.uow import UnitOfWork
from caremesh.practitioners import contract as practitioners
from caremesh.scheduling import domain, events
from caremesh.scheduling.domain import Interval, Status
from caremesh.scheduling.errors import (
    AppointmentConflict,
    AppointmentNotFound,
    InvalidStatusTransition,
    PatientDoubleBooked,
)
from caremesh.scheduling.events import _AppointmentEvent
from caremesh.scheduling.models import PATIENT_OVERLAP, PRACTITIONER_OVERLAP, Appointment
from caremesh.scheduling.schemas import (
    AppointmentCancel,
    AppointmentComplete,
    AppointmentCreate,
    AppointmentReschedule,
)

NUMBER_PREFIX = "APT"

EventT = TypeVar("EventT", bound=_AppointmentEvent)

APPOINTMENTS_BOOKED = Counter("appointments_booked_total", "Appointments booked", ["specialty"])


# A patient-role principal sees only their own appointments; others do not exist for them.
APPOINTMENTS: Repository[Appointment] = audit.repository(
    Appointment,
    AppointmentNotFound,
    entity="appointment",
    owner=Appointment.patient_id,
    order_by=[Appointment.start_at, Appointment.id],  # in order of start
    criteria={
        "start_from": lambda start: Appointment.start_at >= start,  # inclusive
        "start_to": lambda end: Appointment.start_at < end,  # exclusive
    },
)


def _event(event: type[EventT], appointment: Appointment, **given: Any) -> EventT:
    """`event` about the appointment: every field not `given` is the appointment's column of the same name."""
    return from_attributes(
        event, appointment, appointment_id=appointment.id, start=appointment.start_at, end=appointment.end_at, **given
    )


def _busy_query(*, excluding: bool) -> Select[tuple[bool, bool]]:
    overlapping: list[ColumnElement[bool]] = [
        Appointment.status != Status.CANCELLED,
        Appointment.start_at < bindparam("end"),
        Appointment.end_at > bindparam("start"),
    ]
    if excluding:
        overlapping.append(Appointment.id != bindparam("exclude"))
    practitioner_busy = exists().where(Appointment.practitioner_id == bindparam("practitioner_id"), *overlapping)
    patient_busy = exists().where(Appointment.patient_id == bindparam("patient_id"), *overlapping)
    return select(practitioner_busy, patient_busy)


# Built once: every booking and reschedule asks.
_BUSY, _BUSY_EXCLUDING = _busy_query(excluding=False), _busy_query(excluding=True)


async def _busy(
    uow: UnitOfWork, practitioner_id: uuid.UUID, patient_id: uuid.UUID, visit: Interval, exclude: uuid.UUID | None
) -> tuple[bool, bool]:
    """Whether the practitioner and whether the patient have a live appointment overlapping `visit`,
    in one round trip."""
    parameters = {"practitioner_id": practitioner_id, "patient_id": patient_id, "start": visit.start, "end": visit.end}
    if exclude is not None:
        parameters["exclude"] = exclude
    query = _BUSY if exclude is None else _BUSY_EXCLUDING
    row = (await uow.session.execute(query, parameters)).one()
    return bool(row[0]), bool(row[1])


async def _check_slot(
    uow: UnitOfWork,
    practitioner: practitioners.PractitionerSummary,
    patient_id: uuid.UUID,
    visit: Interval,
    *,
    exclude: uuid.UUID | None = None,
) -> None:
    """The booking rules after both parties are known, in the documented order."""
    if visit.start < uow.now():
        raise invalid_field("start", "must not be in the past", code="APPOINTMENT_IN_PAST")
    if not domain.fits_working_hours(practitioner.working_hours, visit, clinic_timezone()):
        raise invalid_field(
            "start",
            "the visit must lie wholly inside one of the practitioner's working windows",
            code="OUTSIDE_WORKING_HOURS",
        )
    # Bookings of one practitioner or one patient run one at a time (PostgreSQL; SQLite has one writer): the later
    # one sees the earlier's committed row here and answers its 409, instead of two inserts deadlocking in the
    # exclusion constraints' checks (a 500 seen in CI with 24 concurrent bookings of one patient).
    for key in sorted((f"appointments.practitioner:{practitioner.id}", f"appointments.patient:{patient_id}")):
        await serialise(uow.session, key)
    practitioner_busy, patient_busy = await _busy(uow, practitioner.id, patient_id, visit, exclude)
    if practitioner_busy:
        raise AppointmentConflict()
    if patient_busy:
        raise PatientDoubleBooked()


async def _flush_refusing_overlaps(uow: UnitOfWork) -> None:
    """Flush; an overlap the database refused (a concurrent booking won) becomes its domain error.

    The transaction cannot continue after that error; raising lets the unit of work roll it back.
    """
    try:
        await uow.session.flush()
    except IntegrityError as error:  # SQLite's RAISE(ABORT) in a trigger surfaces as one too
        if violates(error, PRACTITIONER_OVERLAP):
            raise AppointmentConflict() from error
        if violates(error, PATIENT_OVERLAP):
            raise PatientDoubleBooked() from error
        raise


async def _practitioner(uow: UnitOfWork, practitioner_id: uuid.UUID) -> practitioners.PractitionerSummary:
    # Share-locked: the practitioner cannot be removed or change hours until this booking commits.
    practitioner = await practitioners.find_practitioner(uow.session, practitioner_id, lock=True)
    if practitioner is None:
        raise practitioners.PractitionerNotFound()
    return practitioner


async def book_appointment(uow: UnitOfWork, data: AppointmentCreate) -> Appointment:
    session = uow.session
    if (
        not APPOINTMENTS.may_see(uow, data.patient_id)
        or await patients.find_patient(session, data.patient_id, lock=True) is None
    ):
        raise patients.PatientNotFound()
    practitioner = await _practitioner(uow, data.practitioner_id)
    visit = Interval(data.start, data.start + timedelta(minutes=data.duration_minutes))
    await _check_slot(uow, practitioner, data.patient_id, visit)
    now = uow.now()
    appointment = Appointment(
        id=uuid.uuid4(),
        number=await next_number(session, NUMBER_PREFIX, clinic_date(now).year),
        patient_id=data.patient_id,
        practitioner_id=practitioner.id,
        start_at=visit.start,
        end_at=visit.end,
        duration_minutes=data.duration_minutes,
        status=Status.SCHEDULED,
        reason=data.reason,
        specialty=practitioner.specialty,
        created_at=now,
        updated_at=now,
    )
    session.add(appointment)
    await _flush_refusing_overlaps(uow)
    uow.after_commit(APPOINTMENTS_BOOKED.labels(specialty=appointment.specialty).inc)
    uow.publish(_event(events.AppointmentBooked, appointment))
    audit.record(uow, "appointment.book", "appointment", appointment.id)
    return appointment


# Reads are the repositories' own (`load`: a 404 when missing; `get`: also audited), under the API's names.
get_appointment = APPOINTMENTS.get
list_appointments = APPOINTMENTS.list


async def _begin_transition(
    uow: UnitOfWork, appointment_id: uuid.UUID, target: Status, expected_version: int | None
) -> Appointment:
    appointment = await APPOINTMENTS.load_version(uow, appointment_id, expected_version)
    problem = domain.transition_problem(
        Status(appointment.status), target, start_at=appointment.start_at, now=uow.now()
    )
    if problem:
        raise InvalidStatusTransition(problem)
    return appointment


async def _finish_transition(
    uow: UnitOfWork,
    appointment: Appointment,
    target: Status,
    event: type[_AppointmentEvent],
    action: str,
    **given: Any,
) -> Appointment:
    """The appointment in `target`, published as `event` (the appointment's columns, but what is `given`)."""
    appointment.status = target
    appointment.updated_at = uow.now()
    await uow.session.flush()
    uow.publish(_event(event, appointment, **given))
    audit.record(uow, f"appointment.{action}", "appointment", appointment.id)
    return appointment


async def check_in(uow: UnitOfWork, appointment_id: uuid.UUID, expected_version: int | None) -> Appointment:
    appointment = await _begin_transition(uow, appointment_id, Status.CHECKED_IN, expected_version)
    appointment.checked_in_at = uow.now()
    return await _finish_transition(uow, appointment, Status.CHECKED_IN, events.AppointmentCheckedIn, "check_in")


async def complete(
    uow: UnitOfWork, appointment_id: uuid.UUID, data: AppointmentComplete, expected_version: int | None
) -> Appointment:
    """Record the visit as done. See `domain.visit_times` for how missing times are filled in."""
    appointment = await _begin_transition(uow, appointment_id, Status.COMPLETED, expected_version)
    now = uow.now()
    try:
        started_at, ended_at = domain.visit_times(
            scheduled=Interval(appointment.start_at, appointment.end_at),
            checked_in_at=appointment.checked_in_at,
            started_at=data.started_at,
            ended_at=data.ended_at,
            now=now,
        )
    except domain.VisitTimesError as error:
        raise invalid_field(error.field, error.message, code="INVALID_VISIT_TIMES") from error
    appointment.started_at, appointment.ended_at, appointment.completed_at = started_at, ended_at, now
    return await _finish_transition(uow, appointment, Status.COMPLETED, events.AppointmentCompleted, "complete")


async def cancel(
    uow: UnitOfWork, appointment_id: uuid.UUID, data: AppointmentCancel, expected_version: int | None
) -> Appointment:
    appointment = await _begin_transition(uow, appointment_id, Status.CANCELLED, expected_version)
    appointment.cancelled_at = uow.now()
    appointment.cancellation_reason = data.reason
    return await _finish_transition(
        uow, appointment, Status.CANCELLED, events.AppointmentCancelled, "cancel", reason=data.reason
    )


async def mark_no_show(uow: UnitOfWork, appointment_id: uuid.UUID, expected_version: int | None) -> Appointment:
    appointment = await _begin_transition(uow, appointment_id, Status.NO_SHOW, expected_version)
    return await _finish_transition(uow, appointment, Status.NO_SHOW, events.AppointmentNoShow, "no_show")


async def reschedule(
    uow: UnitOfWork, appointment_id: uuid.UUID, data: AppointmentReschedule, expected_version: int | None
) -> Appointment:
    """Move a scheduled appointment; the booking rules apply again, as if it were not booked."""
    appointment = await APPOINTMENTS.load_version(uow, appointment_id, expected_version)
    if Status(appointment.status) not in domain.RESCHEDULABLE:
        raise InvalidStatusTransition(
            f"Only a scheduled appointment can be rescheduled, not a {appointment.status} one."
        )
    practitioner = await _practitioner(uow, appointment.practitioner_id)
    duration = data.duration_minutes or appointment.duration_minutes
    visit = Interval(data.start, data.start + timedelta(minutes=duration))
    await _check_slot(uow, practitioner, appointment.patient_id, visit, exclude=appointment.id)
    previous_start, previous_end = appointment.start_at, appointment.end_at
    appointment.start_at, appointment.end_at, appointment.duration_minutes = visit.start, visit.end, duration
    appointment.updated_at = uow.now()
    flag_modified(appointment, "updated_at")  # a new version even if moved to where it was
    await _flush_refusing_overlaps(uow)
    uow.publish(
        _event(events.AppointmentRescheduled, appointment, previous_start=previous_start, previous_end=previous_end)
    )
    audit.record(uow, "appointment.reschedule", "appointment", appointment.id)
    return appointment
