"""What other contexts may use of imaging: the study catalogue as orders see it, and its events (payloads in
events.py)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.imaging.domain import SchedulingFailure
from caremesh.imaging.errors import ImagingStudyNotFound
from caremesh.imaging.events import (
    BookedImagingOrder,
    ImagingCancelled,
    ImagingReported,
    ImagingScheduled,
    ImagingSchedulingFailed,
    ScheduledImagingOrder,
)
from caremesh.imaging.models import ImagingStudy

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
