from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, time
from typing import Annotated, Any

from fastapi import Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import Email, Phone, Strict, not_clearable
from caremesh.platform.timeutil import OutDateTime, years_between
from caremesh.practitioners.domain import WorkingWindow, working_hours_problem

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _parse_hh_mm(value: Any) -> Any:
    if isinstance(value, str):
        if not _HH_MM.match(value):
            raise ValueError('time must be "HH:MM" (00:00 to 23:59)')
        return time(int(value[:2]), int(value[3:]))
    return value


ClockTime = Annotated[
    time,
    BeforeValidator(_parse_hh_mm),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    Field(json_schema_extra={"format": "HH:MM"}),
]


class WorkingHoursEntry(Strict):
    weekday: Annotated[int, Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")]
    start: ClockTime
    end: ClockTime

    def to_window(self) -> WorkingWindow:
        return WorkingWindow(self.weekday, self.start, self.end)


def _check_working_hours(entries: list[WorkingHoursEntry]) -> list[WorkingHoursEntry]:
    problem = working_hours_problem(e.to_window() for e in entries)
    if problem:
        raise ValueError(problem)
    return sorted(entries, key=lambda e: (e.weekday, e.start))


WorkingHoursList = Annotated[
    list[WorkingHoursEntry],
    Field(max_length=7 * 24, description="Clinic-local weekly windows; those of one weekday must not overlap"),
    AfterValidator(_check_working_hours),
]


@dataclass(frozen=True, kw_only=True)
class PractitionerFilters(ListFilters):
    specialty: Annotated[str | None, Query(max_length=50)] = None
    q: Annotated[str | None, Query(max_length=100, description="Matches first and last names")] = None
    department_id: uuid.UUID | None = None
    facility_id: Annotated[uuid.UUID | None, Query(description="Practitioners of any department of this facility")] = (
        None
    )


class PractitionerCreate(Strict):
    first_name: Name
    last_name: Name
    # Checked by the service, so that any string gets INVALID_NPI / UNKNOWN_SPECIALTY.
    npi: Annotated[
        str,
        Field(
            description="10 digits; Luhn check over 80840 + npi (else 422 INVALID_NPI)",
            json_schema_extra={"pattern": "^[0-9]{10}$"},  # published; the service checks it with INVALID_NPI
        ),
    ]
    specialty: Annotated[str, Field(description="A code from GET /specialties")]
    practice_start_date: date
    phone: Phone | None = None
    email: Email | None = None
    working_hours: WorkingHoursList | None = Field(
        None, description="Default: Monday to Friday 08:00-18:00 clinic time"
    )
    department_id: uuid.UUID | None = Field(None, description="A department of GET /departments (else 404)")


class PractitionerUpdate(Strict):
    """Only the fields sent change; `null` clears phone, email or department.

    `npi`, `specialty` and `practice_start_date` are accepted only to answer FIELD_NOT_EDITABLE.
    """

    model_config = ConfigDict(json_schema_extra=not_clearable("first_name", "last_name", "working_hours"))

    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None
    working_hours: WorkingHoursList | None = None
    department_id: uuid.UUID | None = None
    npi: SkipJsonSchema[Any] = None
    specialty: SkipJsonSchema[Any] = None
    practice_start_date: SkipJsonSchema[Any] = None


# PractitionerRead.model_validate(practitioner, from_attributes=True, context={"today": a clinic date}): the years
# of experience on that day. (A comment, not a docstring: the docstring would be published in the OpenAPI document.)
class PractitionerRead(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    npi: str
    specialty: str
    practice_start_date: date
    department_id: uuid.UUID | None
    phone: str | None
    email: str | None
    working_hours: list[WorkingHoursEntry]
    experience_years: int = Field(validation_alias="practice_start_date")
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime

    @field_validator("experience_years", mode="before")
    @classmethod
    def _experience_today(cls, started: date, info: ValidationInfo) -> int:
        if not info.context or "today" not in info.context:
            raise TypeError("experience_years is counted to context={'today': a clinic date}; pass it")
        return years_between(started, info.context["today"])


class SpecialtyRead(BaseModel):
    code: str
    name: str


class Slot(BaseModel):
    start: OutDateTime
    end: OutDateTime


class Availability(BaseModel):
    practitioner_id: uuid.UUID
    date: date
    duration_minutes: int
    slots: list[Slot]
