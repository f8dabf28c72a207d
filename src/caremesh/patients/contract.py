"""What other contexts may use of patients: read-only lookups and the event names."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.patients import service
from caremesh.patients.errors import PatientNotFound
from caremesh.patients.events import (
    PATIENT_DELETED,
    PATIENT_REGISTERED,
    PATIENT_UPDATED,
    PatientDeleted,
    PatientRegistered,
    PatientUpdated,
)
from caremesh.patients.models import Patient
from caremesh.patients.schemas import PatientCreate, PatientFilters
from caremesh.platform.errors import invalid_field
from caremesh.platform.mapping import from_attributes
from caremesh.platform.pagination import PageParams
from caremesh.platform.uow import UnitOfWork

__all__ = [
    "PATIENT_DELETED",
    "PATIENT_REGISTERED",
    "PATIENT_UPDATED",
    "PatientDeleted",
    "PatientNotFound",
    "PatientRegistered",
    "PatientSummary",
    "PatientUpdated",
    "find_patient",
    "read_patient",
    "register_patient",
    "search_patients",
]


@dataclass(frozen=True)
class PatientSummary:
    """The patient's columns of the same names."""

    id: uuid.UUID
    first_name: str
    last_name: str
    date_of_birth: date
    gender: str
    insurance_bin: str | None
    insurance_pcn: str | None
    insurance_member_id: str | None
    # Contact details, for notifications only; never log them.
    email: str | None = None
    phone: str | None = None
    # {line1, line2?, city, state, postal_code, country}; for claims and letters, never logged.
    address: Mapping[str, Any] | None = None

    @property
    def has_insurance(self) -> bool:
        return self.insurance_bin is not None


# Built once (many use cases look a patient up; building a statement costs about what running it does).
_LIVE_PATIENT = select(Patient).where(Patient.id == bindparam("patient_id"), Patient.deleted_at.is_(None))
_LIVE_PATIENT_SHARED = _LIVE_PATIENT.with_for_update(read=True)


async def find_patient(session: AsyncSession, patient_id: uuid.UUID, *, lock: bool = False) -> PatientSummary | None:
    """The patient, unless unknown or deleted.

    `lock` takes a shared row lock (PostgreSQL) so the patient cannot be deleted before the caller's
    transaction ends; writers that book for the patient use it.
    """
    query = _LIVE_PATIENT_SHARED if lock else _LIVE_PATIENT
    patient = await session.scalar(query, {"patient_id": patient_id})
    if patient is None:
        return None
    return from_attributes(PatientSummary, patient)


async def register_patient(
    uow: UnitOfWork, *, first_name: str, last_name: str, date_of_birth: date, email: str
) -> uuid.UUID:
    """Register a new patient in the caller's transaction (a self-registration confirmed by identity), as
    `POST /patients` would: the same checks (422 on a bad name, address or date of birth), audit and
    `patient.registered`. Gender is `unknown` until the patient or the front desk says otherwise."""
    try:
        data = PatientCreate(
            first_name=first_name, last_name=last_name, date_of_birth=date_of_birth, gender="unknown", email=email
        )
    except ValidationError as error:
        first = error.errors(include_input=False)[0]
        raise invalid_field(str(first["loc"][0]), first["msg"]) from None
    return (await service.register_patient(uow, data)).id


# --- issue 17: reads for the FHIR facade, through the same use cases as GET /patients (scoping and audit) ---


async def read_patient(uow: UnitOfWork, patient_id: uuid.UUID) -> PatientSummary:
    """The patient as `GET /patients/{id}` reads it: only if the principal may see it (a patient: themself), audited
    as `patient.read`; else PatientNotFound."""
    return from_attributes(PatientSummary, await service.get_patient(uow, patient_id))


async def search_patients(
    uow: UnitOfWork,
    *,
    name: str | None = None,
    date_of_birth: date | None = None,
    patient_id: uuid.UUID | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[PatientSummary], str | None]:
    """One page of the patients `GET /patients` would list (`name`: every word in the first or last name), narrowed
    to one id if given, in its order and audited as it is; and the next cursor."""
    query = service.PATIENTS.matching(uow, PatientFilters(q=name, date_of_birth=date_of_birth))
    if patient_id is not None:
        query = query.where(Patient.id == patient_id)
    rows, next_cursor = await service.PATIENTS.page(
        uow, query, order_by=service.PATIENTS.order_by, params=PageParams(limit=limit, cursor=cursor)
    )
    return [from_attributes(PatientSummary, row) for row in rows], next_cursor
