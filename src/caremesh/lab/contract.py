"""What other contexts may use of lab: the test catalogue as orders see it, and the event names
(payloads in events.py)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.lab.domain import SchedulingFailure
from caremesh.lab.errors import LabTestNotFound
from caremesh.lab.events import (
    LAB_CANCELLED,
    LAB_RESULT_READY,
    LAB_SCHEDULED,
    LAB_SCHEDULING_FAILED,
    BookedLabOrder,
    LabCancelled,
    LabResultReady,
    LabScheduled,
    LabSchedulingFailed,
    ScheduledLabOrder,
)
from caremesh.lab.models import LabTest

__all__ = [
    "LAB_CANCELLED",
    "LAB_RESULT_READY",
    "LAB_SCHEDULED",
    "LAB_SCHEDULING_FAILED",
    "BookedLabOrder",
    "LabCancelled",
    "LabResultReady",
    "LabScheduled",
    "LabSchedulingFailed",
    "LabTestNotFound",
    "LabTestSummary",
    "ScheduledLabOrder",
    "SchedulingFailure",
    "find_lab_tests",
]


@dataclass(frozen=True)
class LabTestSummary:
    id: uuid.UUID
    code: str
    name: str
    loinc: str | None
    price: Decimal
    currency: str


async def find_lab_tests(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, LabTestSummary]:
    """The known tests among `ids`, by id; unknown ids are absent."""
    if not ids:
        return {}
    rows = await session.scalars(select(LabTest).where(LabTest.id.in_(set(ids))))
    return {
        t.id: LabTestSummary(id=t.id, code=t.code, name=t.name, loinc=t.loinc, price=t.price, currency=t.currency)
        for t in rows
    }
