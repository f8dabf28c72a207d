from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, model_validator

from caremesh.orders.domain import OrderStatus, OrderType, Step, StepKind
from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import Strict
from caremesh.platform.timeutil import OutDateTime

MAX_ITEMS = 50
MAX_QUANTITY = 10_000

Dosage = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class OrderItemIn(Strict):
    """A prescription item names `medication_id` and `quantity` (and maybe `dosage`); a lab item only `lab_test_id`;
    an imaging item only `imaging_study_id`."""

    medication_id: uuid.UUID | None = None
    quantity: int | None = Field(None, ge=1, le=MAX_QUANTITY)
    dosage: Dosage | None = None
    lab_test_id: uuid.UUID | None = None
    imaging_study_id: uuid.UUID | None = None


class OrderCreate(Strict):
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    type: OrderType
    items: list[OrderItemIn] = Field(min_length=1, max_length=MAX_ITEMS)
    notes: Notes | None = None

    @model_validator(mode="after")
    def _items_match_type(self) -> OrderCreate:
        for n, item in enumerate(self.items):
            named = {field for field, value in item.model_dump().items() if value is not None}
            if self.type == OrderType.PRESCRIPTION:
                if not {"medication_id", "quantity"} <= named <= {"medication_id", "quantity", "dosage"}:
                    raise ValueError(
                        f"items[{n}]: a prescription item has medication_id and quantity, no lab_test_id"
                        " or imaging_study_id"
                    )
            elif self.type == OrderType.LAB and named != {"lab_test_id"}:
                raise ValueError(f"items[{n}]: a lab item has lab_test_id only")
            elif self.type == OrderType.IMAGING and named != {"imaging_study_id"}:
                raise ValueError(f"items[{n}]: an imaging item has imaging_study_id only")
        return self


class OrderCancel(Strict):
    reason: Reason | None = None


class OrderItemRead(BaseModel):
    medication_id: uuid.UUID | None = None
    quantity: int | None = None
    dosage: str | None = None
    lab_test_id: uuid.UUID | None = None
    imaging_study_id: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True)
class OrderFilters(ListFilters):
    patient_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID | None = None
    status: OrderStatus | None = None
    type: OrderType | None = None


class OrderRead(BaseModel):
    id: uuid.UUID
    number: str
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    type: OrderType
    items: list[OrderItemRead]
    status: OrderStatus
    failure_reason: str | None
    invoice_id: uuid.UUID | None
    notes: str | None
    cancel_reason: str | None
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime
    confirmed_at: OutDateTime | None
    closed_at: OutDateTime | None = Field(description="When the order failed, was cancelled or completed")


class OrderEventRead(BaseModel):
    seq: int
    step: Step
    kind: StepKind
    detail: dict[str, Any]
    source_event_id: uuid.UUID | None
    occurred_at: OutDateTime
