"""What other contexts may use of lab: the test catalogue as orders see it, and the event names
(payloads in events.py)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.lab.domain import LabOrderStatus, SchedulingFailure
from caremesh.lab.errors import LabOrderNotFound, LabTestNotFound
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
from caremesh.lab.models import LabOrder, LabTest
from caremesh.lab.schemas import LabOrderFilters
from caremesh.platform.mapping import from_attributes
from caremesh.platform.pagination import PageParams
from caremesh.platform.uow import UnitOfWork

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


# --- issue 17: reads for the FHIR facade, through the same use cases as GET /lab-orders (scoping and audit) ---


@dataclass(frozen=True)
class LabResultValue:
    name: str
    value: str
    unit: str | None
    reference_range: str | None


@dataclass(frozen=True)
class LabOrderRecord:
    """A lab order (one test of an order) as `GET /lab-orders/{id}` shows it, with its test."""

    id: uuid.UUID
    order_id: uuid.UUID
    position: int
    patient_id: uuid.UUID
    scheduled_date: date
    status: str
    created_at: datetime
    resulted_at: datetime | None
    results: tuple[LabResultValue, ...]
    test: LabTestSummary


async def _lab_records(uow: UnitOfWork, rows: Sequence[LabOrder]) -> list[LabOrderRecord]:
    tests = await find_lab_tests(uow.session, {row.lab_test_id for row in rows})
    return [
        from_attributes(
            LabOrderRecord,
            row,
            results=tuple(LabResultValue(**{"unit": None, "reference_range": None} | v) for v in row.results or ()),
            test=tests[row.lab_test_id],
        )
        for row in rows
    ]


async def read_lab_order(uow: UnitOfWork, lab_order_id: uuid.UUID) -> LabOrderRecord:
    """Only if the principal may see it (a patient: their own), audited as `lab_order.read`; else LabOrderNotFound."""
    from caremesh.lab import service  # here: its imports come back to this module

    return (await _lab_records(uow, [await service.get_lab_order(uow, lab_order_id)]))[0]


async def search_lab_orders(
    uow: UnitOfWork,
    *,
    patient_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[LabOrderRecord], str | None]:
    """One page of what `GET /lab-orders` lists with these filters, as booked, scoped and audited as it is; and the
    next cursor."""
    from caremesh.lab import service  # here: its imports come back to this module

    filters = LabOrderFilters(patient_id=patient_id, status=None if status is None else LabOrderStatus(status))
    rows, next_cursor = await service.list_lab_orders(uow, filters, PageParams(limit=limit, cursor=cursor))
    return await _lab_records(uow, rows), next_cursor


__all__ += ["LabOrderNotFound", "LabOrderRecord", "LabResultValue", "read_lab_order", "search_lab_orders"]
