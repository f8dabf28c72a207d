from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from caremesh.facilities.domain import CODE, PersonnelKind, is_iana_timezone
from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import Address, Strict, Text100, Text200, not_clearable
from caremesh.platform.timeutil import OutDateTime

Code = Annotated[
    str,
    BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
    StringConstraints(pattern=CODE.pattern),
    Field(description="1-20 letters, digits, `-` or `_`; stored upper-cased"),
]
LicenseNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


def _known_timezone(name: str) -> str:
    if not is_iana_timezone(name):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Asia/Kolkata, America/Chicago, UTC)")
    return name


Timezone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_known_timezone),
    Field(description="An IANA time zone name, e.g. `Asia/Kolkata`"),
]


# --- facilities -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FacilityFilters(ListFilters):
    code: Annotated[str | None, Query(max_length=20)] = None


class FacilityCreate(Strict):
    code: Code
    name: Text200
    address: Address
    timezone: Timezone


class FacilityUpdate(Strict):
    """Only the fields sent change."""

    model_config = ConfigDict(json_schema_extra=not_clearable("code", "name", "address", "timezone"))

    code: Code | None = None
    name: Text200 | None = None
    address: Address | None = None
    timezone: Timezone | None = None


class FacilityRead(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    address: Address
    timezone: str
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


class ClinicRead(BaseModel):
    """How every client shows the clinic's figures the same way: its name, the IANA time zone its days and
    wall-clock times are in (naive datetimes in requests are read in it), and the currency of its money."""

    name: str
    timezone: str
    currency: str


# --- departments ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DepartmentFilters(ListFilters):
    facility_id: uuid.UUID | None = None


class DepartmentCreate(Strict):
    facility_id: uuid.UUID
    code: Code
    name: Text200


class DepartmentRead(BaseModel):
    id: uuid.UUID
    facility_id: uuid.UUID
    code: str
    name: str
    created_at: OutDateTime


# --- personnel ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PersonnelFilters(ListFilters):
    department_id: uuid.UUID | None = None
    kind: PersonnelKind | None = None
    active: bool | None = None


class PersonnelCreate(Strict):
    first_name: Text100
    last_name: Text100
    kind: PersonnelKind
    department_id: uuid.UUID | None = None
    license_number: LicenseNumber | None = None
    user_id: uuid.UUID | None = Field(None, description="The user account this member logs in with, if any")
    active: bool = True


class PersonnelUpdate(Strict):
    """Only the fields sent change; `null` clears the department, license number or user."""

    model_config = ConfigDict(json_schema_extra=not_clearable("first_name", "last_name", "kind", "active"))

    first_name: Text100 | None = None
    last_name: Text100 | None = None
    kind: PersonnelKind | None = None
    department_id: uuid.UUID | None = None
    license_number: LicenseNumber | None = None
    user_id: uuid.UUID | None = None
    active: bool | None = None


class PersonnelRead(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    kind: PersonnelKind
    department_id: uuid.UUID | None
    license_number: str | None
    user_id: uuid.UUID | None
    active: bool
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime
