from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field, StringConstraints

from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import Strict
from caremesh.platform.timeutil import InDateTime, OutDateTime
from caremesh.scheduling.domain import (
    DEFAULT_DURATION_MINUTES,
    MAX_DURATION_MINUTES,
    MIN_DURATION_MINUTES,
    Status,
)

DurationMinutes = Annotated[int, Field(ge=MIN_DURATION_MINUTES, le=MAX_DURATION_MINUTES)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


@dataclass(frozen=True, kw_only=True)
class AppointmentFilters(ListFilters):
    patient_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID | None = None
    status: Status | None = None
    start_from: Annotated[InDateTime | None, Query(alias="from", description="Starts at or after (inclusive)")] = None
    start_to: Annotated[InDateTime | None, Query(alias="to", description="Starts before (exclusive)")] = None


class AppointmentCreate(Strict):
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    start: InDateTime = Field(description="RFC 3339; a naive datetime is clinic-local")
    duration_minutes: DurationMinutes = DEFAULT_DURATION_MINUTES
    reason: Reason | None = None


class AppointmentReschedule(Strict):
    start: InDateTime
    duration_minutes: DurationMinutes | None = Field(None, description="Default: the current duration")


class AppointmentComplete(Strict):
    started_at: InDateTime | None = Field(None, description="Default: the check-in time, else the scheduled start")
    ended_at: InDateTime | None = Field(None, description="Default: now")


class AppointmentCancel(Strict):
    reason: Reason | None = None


class AppointmentRead(BaseModel):
    id: uuid.UUID
    number: str
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    specialty: str
    start: OutDateTime = Field(validation_alias="start_at")
    end: OutDateTime = Field(validation_alias="end_at")
    duration_minutes: int
    status: Status
    reason: str | None
    checked_in_at: OutDateTime | None
    started_at: OutDateTime | None
    ended_at: OutDateTime | None
    completed_at: OutDateTime | None
    cancelled_at: OutDateTime | None
    cancellation_reason: str | None
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime
