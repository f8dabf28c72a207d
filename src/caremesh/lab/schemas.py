from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from caremesh.lab import domain
from caremesh.lab.domain import LabOrderStatus
from caremesh.platform.money import MoneyIn, MoneyOut
from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import CatalogueCode, Strict, Text200, not_clearable
from caremesh.platform.timeutil import OutDateTime


def _loinc(value: str) -> str:
    if not domain.is_valid_loinc(value):
        raise ValueError("not a LOINC code: digits, a dash and the right check digit (e.g. 2345-7)")
    return value


Loinc = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=10),
    AfterValidator(_loinc),
    Field(description="A LOINC code with its mod-10 check digit, e.g. `2345-7`"),
]
Capacity = Annotated[int, Field(ge=0, le=10_000, description="Bookings per clinic day; 0 takes none")]


class LabTestCreate(Strict):
    code: CatalogueCode
    name: Text200
    loinc: Loinc | None = None
    price: MoneyIn
    daily_capacity: Capacity


class LabTestUpdate(Strict):
    """Only the fields sent change; `loinc: null` clears it. The code never changes."""

    model_config = ConfigDict(json_schema_extra=not_clearable("name", "price", "daily_capacity"))

    name: Text200 | None = None
    loinc: Loinc | None = None
    price: MoneyIn | None = None
    daily_capacity: Capacity | None = None


@dataclass(frozen=True, kw_only=True)
class LabTestFilters(ListFilters):
    code: str | None = Query(None, max_length=40)
    q: str | None = Query(None, max_length=200, description="Every word appears in the code or the name")


class LabTestRead(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    loinc: str | None
    price: MoneyOut
    currency: str
    daily_capacity: int
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


class ResultValue(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None
    reference_range: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = (
        None
    )


class LabResultCreate(Strict):
    values: list[ResultValue] = Field(min_length=1, max_length=100)


class ResultValueRead(BaseModel):
    name: str
    value: str
    unit: str | None
    reference_range: str | None


@dataclass(frozen=True, kw_only=True)
class LabOrderFilters(ListFilters):
    order_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    lab_test_id: uuid.UUID | None = None
    status: LabOrderStatus | None = None
    scheduled_date: date | None = None


class LabOrderRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    position: int = Field(description="The item's place in the order, from 1")
    patient_id: uuid.UUID
    lab_test_id: uuid.UUID
    scheduled_date: date
    status: LabOrderStatus
    order_confirmed: bool = Field(description="The order is confirmed: the lab order may be resulted")
    results: list[ResultValueRead] | None
    resulted_at: OutDateTime | None
    cancelled_at: OutDateTime | None
    cancel_reason: str | None
    created_at: OutDateTime
    updated_at: OutDateTime
