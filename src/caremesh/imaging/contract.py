"""What other contexts may use of imaging: the study catalogue as orders see it, and its events (payloads in
events.py)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.imaging.domain import ImagingOrderStatus, SchedulingFailure
from caremesh.imaging.errors import ImagingOrderNotFound, ImagingStudyNotFound
from caremesh.imaging.events import (
    BookedImagingOrder,
    ImagingCancelled,
    ImagingReported,
    ImagingScheduled,
    ImagingSchedulingFailed,
    ScheduledImagingOrder,
)
from caremesh.imaging.models import ImagingOrder, ImagingStudy
from caremesh.imaging.schemas import ImagingOrderFilters
from caremesh.platform.mapping import from_attributes
from caremesh.platform.pagination import PageParams
from caremesh.platform.uow import UnitOfWork

__all__ = [
    "BookedImagingOrder",
    "ImagingCancelled",
    "ImagingReported",
    "ImagingScheduled",
    "ImagingSchedulingFailed",
    "ImagingStudyNotFound",
    "ImagingStudySummary",
    "ScheduledImagingOrder",
    "SchedulingFailure",
    "find_imaging_studies",
]


@dataclass(frozen=True)
class ImagingStudySummary:
    id: uuid.UUID
    code: str
    name: str
    modality: str
    price: Decimal
    currency: str


async def find_imaging_studies(
    session: AsyncSession, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, ImagingStudySummary]:
    """The known studies among `ids`, by id; unknown ids are absent."""
    if not ids:
        return {}
    rows = await session.scalars(select(ImagingStudy).where(ImagingStudy.id.in_(set(ids))))
    return {
        s.id: ImagingStudySummary(
            id=s.id, code=s.code, name=s.name, modality=s.modality, price=s.price, currency=s.currency
        )
        for s in rows
    }


# --- issue 17: reads for the FHIR facade, through the same use cases as GET /imaging-orders (scoping and audit) ---


@dataclass(frozen=True)
class ImagingOrderRecord:
    """An imaging order (one study of an order) as `GET /imaging-orders/{id}` shows it, with its study and, once
    reported, the radiologist's findings and impression."""

    id: uuid.UUID
    order_id: uuid.UUID
    position: int
    patient_id: uuid.UUID
    scheduled_date: date
    status: str
    created_at: datetime
    findings: str | None
    impression: str | None
    reported_at: datetime | None
    study: ImagingStudySummary


async def _imaging_records(uow: UnitOfWork, rows: Sequence[ImagingOrder]) -> list[ImagingOrderRecord]:
    studies = await find_imaging_studies(uow.session, {row.imaging_study_id for row in rows})
    return [from_attributes(ImagingOrderRecord, row, study=studies[row.imaging_study_id]) for row in rows]


async def read_imaging_order(uow: UnitOfWork, imaging_order_id: uuid.UUID) -> ImagingOrderRecord:
    """Only if the principal may see it (a patient: their own), audited as `imaging_order.read`; else
    ImagingOrderNotFound."""
    from caremesh.imaging import service  # here: its imports come back to this module

    return (await _imaging_records(uow, [await service.get_imaging_order(uow, imaging_order_id)]))[0]


async def search_imaging_orders(
    uow: UnitOfWork,
    *,
    patient_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[ImagingOrderRecord], str | None]:
    """One page of what `GET /imaging-orders` lists with these filters, as booked, scoped and audited as it is; and
    the next cursor."""
    from caremesh.imaging import service  # here: its imports come back to this module

    filters = ImagingOrderFilters(patient_id=patient_id, status=None if status is None else ImagingOrderStatus(status))
    rows, next_cursor = await service.list_imaging_orders(uow, filters, PageParams(limit=limit, cursor=cursor))
    return await _imaging_records(uow, rows), next_cursor


__all__ += ["ImagingOrderNotFound", "ImagingOrderRecord", "read_imaging_order", "search_imaging_orders"]
