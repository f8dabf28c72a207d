"""What other contexts may use of facilities: the event types (payloads in events.py), the not-found errors and
read-only lookups of departments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.facilities.errors import DepartmentNotFound, FacilityNotFound
from caremesh.facilities.events import (
    DEPARTMENT_CREATED,
    FACILITY_CREATED,
    FACILITY_UPDATED,
    PERSONNEL_REGISTERED,
    PERSONNEL_UPDATED,
    DepartmentCreated,
    FacilityCreated,
    FacilityUpdated,
    PersonnelRegistered,
    PersonnelUpdated,
)
from caremesh.facilities.models import Department
from caremesh.platform.mapping import from_attributes

__all__ = [
    "DEPARTMENT_CREATED",
    "FACILITY_CREATED",
    "FACILITY_UPDATED",
    "PERSONNEL_REGISTERED",
    "PERSONNEL_UPDATED",
    "DepartmentCreated",
    "DepartmentNotFound",
    "DepartmentSummary",
    "FacilityCreated",
    "FacilityNotFound",
    "FacilityUpdated",
    "PersonnelRegistered",
    "PersonnelUpdated",
    "department_ids_of",
    "find_department",
]


@dataclass(frozen=True)
class DepartmentSummary:
    """The department's columns of the same names."""

    id: uuid.UUID
    facility_id: uuid.UUID
    code: str
    name: str


_DEPARTMENT = select(Department).where(Department.id == bindparam("department_id"))
_DEPARTMENTS_OF = select(Department.id).where(Department.facility_id == bindparam("facility_id"))


async def find_department(session: AsyncSession, department_id: uuid.UUID) -> DepartmentSummary | None:
    """The department, or None when there is none with this id (departments are never removed)."""
    department = await session.scalar(_DEPARTMENT, {"department_id": department_id})
    return None if department is None else from_attributes(DepartmentSummary, department)


async def department_ids_of(session: AsyncSession, facility_id: uuid.UUID) -> list[uuid.UUID]:
    """The ids of every department of the facility (none for an unknown facility)."""
    return list(await session.scalars(_DEPARTMENTS_OF, {"facility_id": facility_id}))
