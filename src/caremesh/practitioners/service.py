"""Use cases of practitioners. They flush; the entrypoint commits."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import exists, select, true
from sqlalchemy.exc import IntegrityError

from caremesh.audit import contract as audit
from caremesh.facilities import contract as facilities
from caremesh.platform.db import violates
from caremesh.platform.errors import invalid_field
from caremesh.platform.mapping import from_attributes
from caremesh.platform.messaging.events import IntegrationEvent
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.repository import Repository
from caremesh.platform.schemas import changes_of
from caremesh.platform.search import matches_every_word
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork
from caremesh.practitioners.domain import DEFAULT_WORKING_HOURS, WorkingWindow, is_valid_npi
from caremesh.practitioners.errors import DuplicateNpi, PractitionerHasAppointments, PractitionerNotFound
from caremesh.practitioners.events import PractitionerDeleted, PractitionerRegistered, PractitionerUpdated
from caremesh.practitioners.models import Practitioner, Specialty, WorkingHours
from caremesh.practitioners.schemas import (
    Availability,
    PractitionerCreate,
    PractitionerFilters,
    PractitionerUpdate,
    Slot,
)
from caremesh.scheduling import contract as scheduling

IMMUTABLE_FIELDS = ("npi", "specialty", "practice_start_date")
NPI_UNIQUE = "uq_practitioners_npi"

EventT = TypeVar("EventT", bound=IntegrationEvent)


# Everyone sees every practitioner still on the staff (no owner); a removed one is gone.
PRACTITIONERS: Repository[Practitioner] = audit.repository(
    Practitioner,
    PractitionerNotFound,
    entity="practitioner",
    where=[Practitioner.deleted_at.is_(None)],
    order_by=[Practitioner.created_at, Practitioner.id],
    criteria={
        # An empty `specialty` filters nothing, as a missing one.
        "specialty": lambda code: Practitioner.specialty == code if code else true(),
        "q": lambda q: matches_every_word(q, Practitioner.first_name, Practitioner.last_name),
    },
)


def today(uow: UnitOfWork) -> date:
    return clinic_date(uow.now())


def _event(event: type[EventT], practitioner: Practitioner, **given: Any) -> EventT:
    """`event` about the practitioner: every field not `given` is the practitioner's column of the same name."""
    return from_attributes(event, practitioner, practitioner_id=practitioner.id, **given)


def _rows(windows: Iterable[WorkingWindow]) -> list[WorkingHours]:
    return [WorkingHours(weekday=w.weekday, start_time=w.start, end_time=w.end) for w in windows]


async def _check_department(uow: UnitOfWork, department_id: uuid.UUID | None) -> None:
    if department_id is not None and await facilities.find_department(uow.session, department_id) is None:
        raise facilities.DepartmentNotFound(f"There is no department {department_id}.")


async def list_specialties(uow: UnitOfWork, page: PageParams) -> tuple[list[Specialty], str | None]:
    return await paginate(uow.session, select(Specialty), order_by=[Specialty.name, Specialty.code], params=page)


async def register_practitioner(uow: UnitOfWork, data: PractitionerCreate) -> Practitioner:
    session = uow.session
    if not is_valid_npi(data.npi):
        raise invalid_field("npi", "must be 10 digits whose Luhn check over 80840 + npi holds", code="INVALID_NPI")
    if data.practice_start_date > today(uow):
        raise invalid_field("practice_start_date", "must not be in the future")
    if not await session.scalar(select(exists().where(Specialty.code == data.specialty))):
        raise invalid_field("specialty", f"{data.specialty!r} is not in GET /specialties", code="UNKNOWN_SPECIALTY")
    if await session.scalar(select(exists().where(Practitioner.npi == data.npi))):
        raise DuplicateNpi()
    await _check_department(uow, data.department_id)
    windows = (
        DEFAULT_WORKING_HOURS if data.working_hours is None else [entry.to_window() for entry in data.working_hours]
    )
    now = uow.now()
    practitioner = Practitioner(
        id=uuid.uuid4(),
        **data.model_dump(exclude={"working_hours"}),
        working_hours=_rows(windows),
        created_at=now,
        updated_at=now,
    )
    session.add(practitioner)
    try:
        await session.flush()
    except IntegrityError as error:  # a concurrent registration of the same NPI won the race
        if violates(error, NPI_UNIQUE) or violates(error, "practitioners.npi"):
            raise DuplicateNpi() from error
        raise
    uow.publish(_event(PractitionerRegistered, practitioner))
    audit.record(uow, "practitioner.create", "practitioner", practitioner.id)
    return practitioner


async def get_practitioner(uow: UnitOfWork, practitioner_id: uuid.UUID) -> Practitioner:
    return await PRACTITIONERS.load(uow, practitioner_id)  # not audited: practitioners are no patient data


async def list_practitioners(
    uow: UnitOfWork, filters: PractitionerFilters, page: PageParams
) -> tuple[list[Practitioner], str | None]:
    # Not audited (no PRACTITIONERS.list): practitioners are no patient data.
    query = PRACTITIONERS.matching(uow, dataclasses.replace(filters, facility_id=None))
    if filters.facility_id is not None:  # asked of facilities first: no statement joins two contexts' tables
        departments = await facilities.department_ids_of(uow.session, filters.facility_id)
        query = query.where(Practitioner.department_id.in_(departments))
    return await paginate(uow.session, query, order_by=PRACTITIONERS.order_by, params=page)


async def update_practitioner(
    uow: UnitOfWork, practitioner_id: uuid.UUID, data: PractitionerUpdate, expected_version: int | None
) -> Practitioner:
    for field in IMMUTABLE_FIELDS:
        if field in data.model_fields_set:
            raise invalid_field(field, "cannot be changed after registration", code="FIELD_NOT_EDITABLE")
    practitioner = await PRACTITIONERS.load_version(uow, practitioner_id, expected_version)
    changes = changes_of(data)
    if changes.get("department_id") not in (None, practitioner.department_id):
        await _check_department(uow, changes["department_id"])
    if "working_hours" in changes:
        windows = [entry.to_window() for entry in data.working_hours or ()]
        practitioner.working_hours = _rows(windows)
    for field in ("first_name", "last_name", "phone", "email", "department_id"):
        if field in changes:
            setattr(practitioner, field, changes[field])
    if changed := await PRACTITIONERS.updated(uow, practitioner, changes):
        uow.publish(_event(PractitionerUpdated, practitioner, changed_fields=changed))
    return practitioner


async def delete_practitioner(uow: UnitOfWork, practitioner_id: uuid.UUID, expected_version: int | None) -> None:
    practitioner = await PRACTITIONERS.load_version(uow, practitioner_id, expected_version)
    if await scheduling.count_active_appointments(uow.session, practitioner_id=practitioner.id):
        raise PractitionerHasAppointments("Only a practitioner whose appointments are all cancelled can be removed.")
    await PRACTITIONERS.soft_delete(uow, practitioner)
    uow.publish(_event(PractitionerDeleted, practitioner))


async def get_availability(
    uow: UnitOfWork, practitioner_id: uuid.UUID, day: date, duration_minutes: int
) -> Availability:
    practitioner = await PRACTITIONERS.load(uow, practitioner_id)
    slots = await scheduling.free_slots(
        uow.session,
        practitioner_id=practitioner.id,
        working_hours=[(w.weekday, w.start_time, w.end_time) for w in practitioner.working_hours],
        day=day,
        duration_minutes=duration_minutes,
        now=uow.now(),
    )
    return Availability(
        practitioner_id=practitioner.id,
        date=day,
        duration_minutes=duration_minutes,
        slots=[Slot(start=start, end=end) for start, end in slots],
    )
