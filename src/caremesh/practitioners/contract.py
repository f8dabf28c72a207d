"""What other contexts may use of practitioners: read-only lookups and the event names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform.mapping import from_attributes
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.timeutil import years_between
from caremesh.platform.uow import UnitOfWork
from caremesh.practitioners import service
from caremesh.practitioners.errors import PractitionerNotFound
from caremesh.practitioners.events import (
    PRACTITIONER_DELETED,
    PRACTITIONER_REGISTERED,
    PRACTITIONER_UPDATED,
    PractitionerDeleted,
    PractitionerRegistered,
    PractitionerUpdated,
)
from caremesh.practitioners.models import Practitioner, Specialty
from caremesh.practitioners.schemas import PractitionerFilters

__all__ = [
    "PRACTITIONER_DELETED",
    "PRACTITIONER_REGISTERED",
    "PRACTITIONER_UPDATED",
    "PractitionerDeleted",
    "PractitionerNotFound",
    "PractitionerProfile",
    "PractitionerRegistered",
    "PractitionerSummary",
    "PractitionerUpdated",
    "experience_years",
    "find_practitioner",
    "read_practitioner",
    "search_practitioners",
]


@dataclass(frozen=True)
class PractitionerSummary:
    """The practitioner's columns of the same names, and the working hours as plain tuples."""

    id: uuid.UUID
    first_name: str
    last_name: str
    specialty: str
    practice_start_date: date
    # Clinic-local weekly windows: (weekday Monday=0, start, end), ordered.
    working_hours: tuple[tuple[int, time, time], ...]


def experience_years(summary: PractitionerSummary, on: date) -> int:
    """Whole years of practice on `on`."""
    return years_between(summary.practice_start_date, on)


# Built once: every booking looks the practitioner up.
_LIVE_PRACTITIONER = select(Practitioner).where(
    Practitioner.id == bindparam("practitioner_id"), Practitioner.deleted_at.is_(None)
)
_LIVE_PRACTITIONER_SHARED = _LIVE_PRACTITIONER.with_for_update(read=True)


async def find_practitioner(
    session: AsyncSession, practitioner_id: uuid.UUID, *, lock: bool = False
) -> PractitionerSummary | None:
    """The practitioner, unless unknown or deleted.

    `lock` takes a shared row lock (PostgreSQL) so the practitioner cannot be removed or have the
    working hours changed before the caller's transaction ends; writers that book against the
    practitioner use it.
    """
    query = _LIVE_PRACTITIONER_SHARED if lock else _LIVE_PRACTITIONER
    practitioner = await session.scalar(query, {"practitioner_id": practitioner_id})
    if practitioner is None:
        return None
    hours = tuple((w.weekday, w.start_time, w.end_time) for w in practitioner.working_hours)
    return from_attributes(PractitionerSummary, practitioner, working_hours=hours)


# --- issue 17: reads for the FHIR facade, through the same use cases as GET /practitioners ---


@dataclass(frozen=True)
class PractitionerProfile:
    """A practitioner as the directory shows them: NPI, specialty (code and name) and work contacts."""

    id: uuid.UUID
    first_name: str
    last_name: str
    npi: str
    specialty: str
    specialty_name: str
    phone: str | None
    email: str | None


async def _profiles(uow: UnitOfWork, rows: list[Practitioner]) -> list[PractitionerProfile]:
    names = {code: name for code, name in await uow.session.execute(select(Specialty.code, Specialty.name))}
    return [
        from_attributes(PractitionerProfile, row, specialty_name=names.get(row.specialty, row.specialty))
        for row in rows
    ]


async def read_practitioner(uow: UnitOfWork, practitioner_id: uuid.UUID) -> PractitionerProfile:
    """As `GET /practitioners/{id}` reads it (not audited: no patient data); else PractitionerNotFound."""
    return (await _profiles(uow, [await service.get_practitioner(uow, practitioner_id)]))[0]


async def search_practitioners(
    uow: UnitOfWork, *, npi: str | None = None, name: str | None = None, limit: int, cursor: str | None = None
) -> tuple[list[PractitionerProfile], str | None]:
    """One page of the practitioners `GET /practitioners` lists (`name`: every word in the first or last name),
    narrowed to one NPI if given, in its order; and the next cursor."""
    query = service.PRACTITIONERS.matching(uow, PractitionerFilters(q=name))
    if npi is not None:
        query = query.where(Practitioner.npi == npi)
    params = PageParams(limit=limit, cursor=cursor)
    rows, next_cursor = await paginate(uow.session, query, order_by=service.PRACTITIONERS.order_by, params=params)
    return await _profiles(uow, rows), next_cursor
