"""Use cases of facilities, departments and personnel. They flush; the entrypoint commits.

Facilities and departments are reference data (lists not audited); personnel are staff, not patients: their
writes are audited, their reads are not (as practitioners', who carry the same kind of data).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel
from sqlalchemy import exists, select, true
from sqlalchemy.exc import IntegrityError

from caremesh.audit import contract as audit
from caremesh.facilities import errors
from caremesh.facilities.domain import FIRST_FACILITY_CODE
from caremesh.facilities.events import (
    DepartmentCreated,
    FacilityCreated,
    FacilityUpdated,
    PersonnelRegistered,
    PersonnelUpdated,
)
from caremesh.facilities.models import Department, Facility, Personnel
from caremesh.facilities.schemas import (
    DepartmentCreate,
    FacilityCreate,
    FacilityUpdate,
    PersonnelCreate,
    PersonnelUpdate,
)
from caremesh.identity import contract as identity
from caremesh.platform.db import serialise, violates
from caremesh.platform.mapping import from_attributes
from caremesh.platform.repository import Repository
from caremesh.platform.schemas import Address, changes_of
from caremesh.platform.uow import UnitOfWork

# Unique constraints, by PostgreSQL's name and SQLite's column list.
FACILITY_CODE_UNIQUE = ("uq_facilities_code", "facilities.code")
DEPARTMENT_CODE_UNIQUE = ("uq_departments_facility_id_code", "departments.facility_id, departments.code")
PERSONNEL_USER_UNIQUE = ("uq_personnel_user_id", "personnel.user_id")

FACILITIES: Repository[Facility] = audit.repository(
    Facility, errors.FacilityNotFound, entity="facility", audit_lists=False, order_by=[Facility.code]
)
DEPARTMENTS: Repository[Department] = audit.repository(
    Department,
    errors.DepartmentNotFound,
    entity="department",
    audit_lists=False,
    order_by=[Department.facility_id, Department.code],
)
PERSONNEL: Repository[Personnel] = audit.repository(
    Personnel,
    errors.PersonnelNotFound,
    entity="personnel",
    audit_lists=False,
    order_by=[Personnel.created_at, Personnel.id],
)


@contextmanager
def _unique(constraint: tuple[str, ...], conflict: type[Exception]) -> Iterator[None]:
    """A flush inside that breaks `constraint` (a concurrent writer got there first) raises `conflict`, not a 500."""
    try:
        yield
    except IntegrityError as error:
        if any(violates(error, name) for name in constraint):
            raise conflict() from error
        raise


async def _insert(uow: UnitOfWork, row: Any, constraint: tuple[str, ...], conflict: type[Exception]) -> None:
    uow.session.add(row)
    with _unique(constraint, conflict):
        await uow.session.flush()


def _created(uow: UnitOfWork, event: type[Any], row: Any, entity: str) -> None:
    """Publish `event` (`<entity>_id` and the row's fields) and record `<entity>.create`."""
    uow.publish(from_attributes(event, row, **{f"{entity}_id": row.id}))
    audit.record(uow, f"{entity}.create", entity, row.id)


def _changes(row: Any, data: BaseModel) -> dict[str, Any]:
    """What a PATCH body sets to something other than the row has."""
    return {name: value for name, value in changes_of(data).items() if getattr(row, name) != value}


async def _update(
    uow: UnitOfWork,
    repository: Repository[Any],
    row: Any,
    changes: dict[str, Any],
    constraint: tuple[str, ...],
    conflict: type[Exception],
) -> tuple[str, ...]:
    """Apply `changes` to `row` (a lost race for `constraint` raises `conflict`); the names that changed."""
    for name, value in changes.items():
        setattr(row, name, value)
    with _unique(constraint, conflict):
        return await repository.updated(uow, row, changes)


def _other_than(column: Any, row_id: uuid.UUID | None) -> Any:
    return column != row_id if row_id is not None else true()


# --- facilities ---------------------------------------------------------------------------------------------------


async def _check_facility_code_free(uow: UnitOfWork, code: str, facility_id: uuid.UUID | None = None) -> None:
    taken = select(exists().where(Facility.code == code, _other_than(Facility.id, facility_id)))
    if await uow.session.scalar(taken):
        raise errors.FacilityCodeTaken(f"A facility with code {code} exists.")


async def _add_facility(uow: UnitOfWork, fields: dict[str, Any]) -> Facility:
    now = uow.now()
    facility = Facility(id=uuid.uuid4(), **fields, created_at=now, updated_at=now)
    await _insert(uow, facility, FACILITY_CODE_UNIQUE, errors.FacilityCodeTaken)
    return facility


async def create_facility(uow: UnitOfWork, data: FacilityCreate) -> Facility:
    await _check_facility_code_free(uow, data.code)
    facility = await _add_facility(uow, data.model_dump())
    _created(uow, FacilityCreated, facility, "facility")
    return facility


async def bootstrap(uow: UnitOfWork) -> None:
    """First start: while no facility exists, create one from the CAREMESH_CLINIC_* settings (the clinic every
    installation had before facilities), so existing installations keep working. Processes starting at once take
    turns here, so exactly one creates it; after that (even if it is renamed) no start creates another.

    Neither `facility.created` nor an audit event: this is the clinic the installation always had, now a row (as
    the default tariffs, which publish and record nothing either), not a facility someone opened."""
    await serialise(uow.session, "facilities.bootstrap")
    if await uow.session.scalar(select(Facility.id).limit(1)) is not None:
        return
    clinic = uow.settings.clinic
    place = clinic.model_dump(include={"city", "state", "postal_code", "country"})
    address = Address(line1=clinic.address_line, **place)
    # The clinic's timezone is the installation's (CAREMESH_TIMEZONE, checked when the settings were read).
    fields = {"code": FIRST_FACILITY_CODE, "name": clinic.name, "timezone": uow.settings.app.timezone}
    await _add_facility(uow, {**fields, "address": address.model_dump()})


# Reads are the repositories' own (`load`: a 404 when missing; `get`: also audited), under the API's names.
get_facility = FACILITIES.load
list_facilities = FACILITIES.list


async def update_facility(
    uow: UnitOfWork, facility_id: uuid.UUID, data: FacilityUpdate, expected_version: int | None
) -> Facility:
    facility = await FACILITIES.load_version(uow, facility_id, expected_version)
    changes = _changes(facility, data)
    if "code" in changes:
        await _check_facility_code_free(uow, changes["code"], facility.id)
    if changed := await _update(uow, FACILITIES, facility, changes, FACILITY_CODE_UNIQUE, errors.FacilityCodeTaken):
        uow.publish(from_attributes(FacilityUpdated, facility, facility_id=facility.id, changed_fields=changed))
    return facility


# --- departments --------------------------------------------------------------------------------------------------


async def create_department(uow: UnitOfWork, data: DepartmentCreate) -> Department:
    await FACILITIES.load(uow, data.facility_id)  # facilities are never removed: no lock needed
    taken = exists().where(Department.facility_id == data.facility_id, Department.code == data.code)
    if await uow.session.scalar(select(taken)):
        raise errors.DepartmentCodeTaken(f"The facility has a department with code {data.code}.")
    department = Department(id=uuid.uuid4(), **data.model_dump(), created_at=uow.now())
    await _insert(uow, department, DEPARTMENT_CODE_UNIQUE, errors.DepartmentCodeTaken)
    _created(uow, DepartmentCreated, department, "department")
    return department


get_department = DEPARTMENTS.load
list_departments = DEPARTMENTS.list


# --- personnel ----------------------------------------------------------------------------------------------------


async def _check_references(uow: UnitOfWork, changes: dict[str, Any], personnel_id: uuid.UUID | None = None) -> None:
    """The department named exists; the user named exists and is no other member's."""
    if changes.get("department_id") is not None:
        await DEPARTMENTS.load(uow, changes["department_id"])
    if (user_id := changes.get("user_id")) is not None:
        if not await identity.user_exists(uow.session, user_id):
            raise errors.UserNotFound(f"No user account has the id {user_id}.")
        others = exists().where(Personnel.user_id == user_id, _other_than(Personnel.id, personnel_id))
        if await uow.session.scalar(select(others)):
            raise errors.PersonnelUserTaken("Another personnel member logs in with this user account.")


async def register_personnel(uow: UnitOfWork, data: PersonnelCreate) -> Personnel:
    given = data.model_dump()
    await _check_references(uow, given)
    now = uow.now()
    member = Personnel(id=uuid.uuid4(), **given, created_at=now, updated_at=now)
    await _insert(uow, member, PERSONNEL_USER_UNIQUE, errors.PersonnelUserTaken)
    _created(uow, PersonnelRegistered, member, "personnel")
    return member


get_personnel = PERSONNEL.load
list_personnel = PERSONNEL.list


async def update_personnel(
    uow: UnitOfWork, personnel_id: uuid.UUID, data: PersonnelUpdate, expected_version: int | None
) -> Personnel:
    member = await PERSONNEL.load_version(uow, personnel_id, expected_version)
    changes = _changes(member, data)
    await _check_references(uow, changes, member.id)
    if changed := await _update(uow, PERSONNEL, member, changes, PERSONNEL_USER_UNIQUE, errors.PersonnelUserTaken):
        uow.publish(from_attributes(PersonnelUpdated, member, personnel_id=member.id, changed_fields=changed))
    return member
