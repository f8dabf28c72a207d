from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field, StringConstraints

from caremesh.imaging.domain import ImagingOrderStatus, Modality
from caremesh.platform.money import MoneyIn, MoneyOut
from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import CatalogueCode, Strict, Text200
from caremesh.platform.timeutil import OutDateTime

# A study in the catalogue is booked at least once a day: a study no one may book is left out of the catalogue.
Capacity = Annotated[int, Field(ge=1, le=10_000, description="Bookings per clinic day, at least 1")]
ReportText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


class ImagingStudyCreate(Strict):
    code: CatalogueCode
    name: Text200
    modality: Modality
    price: MoneyIn
    daily_capacity: Capacity


@dataclass(frozen=True, kw_only=True)
class ImagingStudyFilters(ListFilters):
    code: str | None = Query(None, max_length=40)
    modality: Modality | None = None
    q: str | None = Query(None, max_length=200, description="Every word appears in the code or the name")


class ImagingStudyRead(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    modality: Modality
    price: MoneyOut
    currency: str
    daily_capacity: int
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


class ImagingReportCreate(Strict):
    findings: ReportText
    impression: ReportText


class ImagingReportRead(BaseModel):
    findings: str
    impression: str
    reported_at: OutDateTime
    reported_by: uuid.UUID | None


@dataclass(frozen=True, kw_only=True)
class ImagingOrderFilters(ListFilters):
    order_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    imaging_study_id: uuid.UUID | None = None
    status: ImagingOrderStatus | None = None
    scheduled_date: date | None = None


class ImagingOrderRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    position: int = Field(description="The item's place in the order, from 1")
    patient_id: uuid.UUID
    imaging_study_id: uuid.UUID
    scheduled_date: date
    status: ImagingOrderStatus
    order_confirmed: bool = Field(description="The order is confirmed: the imaging order may be reported")
    report: ImagingReportRead | None = Field(description="The radiologist's report, once reported")
    cancelled_at: OutDateTime | None
    cancel_reason: str | None
    created_at: OutDateTime
    updated_at: OutDateTime
