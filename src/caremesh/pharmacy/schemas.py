from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from caremesh.pharmacy.domain import FailureReason, ReservationStatus
from caremesh.platform.money import MoneyOut, money
from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import CatalogueCode, Strict, Text200
from caremesh.platform.timeutil import OutDateTime

MAX_QUANTITY = 1_000_000_000  # well inside a 32-bit integer, so sums of stock stay exact everywhere

MedicationCode = Annotated[
    CatalogueCode, Field(description="Upper-case letters, digits, `-` and `_`, up to 40 characters (stored upper-case)")
]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
# A string or number with at most two decimals, kept to the cent.
UnitPrice = Annotated[
    Decimal,
    Field(ge=0, max_digits=10, decimal_places=2, allow_inf_nan=False, description='e.g. "12.50"'),
    AfterValidator(money),
]
Quantity = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
PositiveQuantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]


class MedicationCreate(Strict):
    code: MedicationCode
    name: Text200
    unit: Unit = Field(description="What one of `quantity` is: tablet, capsule, ml, …")
    unit_price: UnitPrice
    stock_quantity: Quantity


class Restock(Strict):
    quantity: PositiveQuantity


@dataclass(frozen=True, kw_only=True)
class MedicationFilters(ListFilters):
    code: str | None = Query(None, max_length=40)
    q: str | None = Query(None, max_length=200, description="Every word appears in the name")


class MedicationRead(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    unit: str
    unit_price: MoneyOut
    currency: str
    stock_quantity: int
    reserved_quantity: int = Field(description="Held for orders not yet dispensed")
    available_quantity: int = Field(description="stock_quantity - reserved_quantity: what new orders may reserve")
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


@dataclass(frozen=True, kw_only=True)
class ReservationFilters(ListFilters):
    order_id: uuid.UUID | None = None
    medication_id: uuid.UUID | None = None
    status: ReservationStatus | None = None


class ReservationRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    position: int = Field(description="The order item's place in the order, from 1")
    patient_id: uuid.UUID
    medication_id: uuid.UUID
    quantity: int
    status: ReservationStatus
    failure_reason: FailureReason | None = Field(description="Why a `failed` reservation could not be made")
    order_confirmed: bool = Field(description="Its order is confirmed: a `reserved` reservation may be dispensed")
    created_at: OutDateTime
    updated_at: OutDateTime
    released_at: OutDateTime | None
    dispensed_at: OutDateTime | None
