from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import Address, Email, Phone, Strict, not_clearable
from caremesh.platform.timeutil import OutDateTime, years_between

Gender = Literal["male", "female", "other", "unknown"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class InsuranceIdentifiers(Strict):
    bin: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="6-digit bank identification number")]
    pcn: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,10}$", description="processor control number")]
    member_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]


@dataclass(frozen=True, kw_only=True)
class PatientFilters(ListFilters):
    q: Annotated[str | None, Query(max_length=100, description="Matches first and last names")] = None
    date_of_birth: date | None = None


class PatientCreate(Strict):
    first_name: Name
    last_name: Name
    date_of_birth: date
    gender: Gender
    phone: Phone | None = None
    email: Email | None = None
    address: Address | None = None
    insurance: InsuranceIdentifiers | None = None


class PatientUpdate(Strict):
    """Only the fields sent change; `null` clears an optional field."""

    model_config = ConfigDict(json_schema_extra=not_clearable("first_name", "last_name", "date_of_birth", "gender"))

    first_name: Name | None = None
    last_name: Name | None = None
    date_of_birth: date | None = None
    gender: Gender | None = None
    phone: Phone | None = None
    email: Email | None = None
    address: Address | None = None
    insurance: InsuranceIdentifiers | None = None


# PatientRead.model_validate(patient, from_attributes=True, context={"today": a clinic date}): the age on that day.
# (A comment, not a docstring: the docstring would be published in the OpenAPI document.)
class PatientRead(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    date_of_birth: date
    gender: Gender
    phone: str | None
    email: str | None
    address: Address | None
    insurance: InsuranceIdentifiers | None
    age: int = Field(validation_alias="date_of_birth")
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime

    @field_validator("age", mode="before")
    @classmethod
    def _age_today(cls, born: date, info: ValidationInfo) -> int:
        if not info.context or "today" not in info.context:
            raise TypeError("age is counted to context={'today': a clinic date}; pass it")
        return years_between(born, info.context["today"])
