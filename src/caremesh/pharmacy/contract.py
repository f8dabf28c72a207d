"""What other contexts may use of pharmacy: the medication catalogue as orders see it, and the event names
(payloads in events.py)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.pharmacy.domain import FailureReason
from caremesh.pharmacy.errors import MedicationNotFound
from caremesh.pharmacy.events import (
    MEDICATION_DISPENSED,
    MEDICATION_RELEASED,
    MEDICATION_RESERVATION_FAILED,
    MEDICATION_RESERVED,
    MedicationDispensed,
    MedicationReleased,
    MedicationReservationFailed,
    MedicationReserved,
    ReleasedLine,
    ReservedLine,
)
from caremesh.pharmacy.models import Medication

__all__ = [
    "MEDICATION_DISPENSED",
    "MEDICATION_RELEASED",
    "MEDICATION_RESERVATION_FAILED",
    "MEDICATION_RESERVED",
    "FailureReason",
    "MedicationDispensed",
    "MedicationNotFound",
    "MedicationReleased",
    "MedicationReservationFailed",
    "MedicationReserved",
    "MedicationSummary",
    "ReleasedLine",
    "ReservedLine",
    "find_medications",
]


@dataclass(frozen=True)
class MedicationSummary:
    id: uuid.UUID
    code: str
    name: str
    unit: str
    unit_price: Decimal
    currency: str


async def find_medications(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, MedicationSummary]:
    """The medications of `ids` that exist, by id (unknown ids are absent)."""
    if not ids:
        return {}
    rows = await session.execute(
        select(
            Medication.id, Medication.code, Medication.name, Medication.unit, Medication.unit_price, Medication.currency
        ).where(Medication.id.in_(set(ids)))
    )
    return {row.id: MedicationSummary(*row) for row in rows}
