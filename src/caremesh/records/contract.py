"""What other contexts may use of medical records: the event types (payloads in events.py), the vocabulary, the
not-found error, an encounter's coded entries (the diagnoses and procedures billing and claims need), a patient's
active diagnoses, and the ICD-10-CM code set's word on a code."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform.mapping import from_attributes
from caremesh.platform.pagination import PageParams
from caremesh.platform.uow import UnitOfWork
from caremesh.records.domain import ClinicalStatus, RecordStatus, RecordType, icd10cm_diagnosis
from caremesh.records.errors import MedicalRecordNotFound
from caremesh.records.events import (
    MEDICAL_RECORD_AMENDED,
    MEDICAL_RECORD_CREATED,
    MEDICAL_RECORD_RETRACTED,
    MedicalRecordAmended,
    MedicalRecordChanged,
    MedicalRecordCreated,
    MedicalRecordRetracted,
)
from caremesh.records.models import MedicalRecord
from caremesh.records.schemas import MedicalRecordFilters

__all__ = [
    "MEDICAL_RECORD_AMENDED",
    "MEDICAL_RECORD_CREATED",
    "MEDICAL_RECORD_RETRACTED",
    "ClinicalStatus",
    "CodedEntry",
    "MedicalRecordAmended",
    "MedicalRecordChanged",
    "MedicalRecordCreated",
    "MedicalRecordNotFound",
    "MedicalRecordRetracted",
    "RecordStatus",
    "RecordType",
    "active_diagnoses",
    "coded_entries",
    "diagnosis_code",
]


@dataclass(frozen=True)
class CodedEntry:
    """A diagnosis (ICD-10-CM `code`, `description`) or a procedure (CPT/HCPCS `code`, `quantity`) of an encounter,
    as it stands; the entry's columns of the same names."""

    id: uuid.UUID
    type: str  # RecordType.DIAGNOSIS or RecordType.PROCEDURE
    code: str
    description: str | None
    quantity: int | None
    version: int


async def coded_entries(session: AsyncSession, appointment_id: uuid.UUID) -> list[CodedEntry]:
    """The encounter's diagnoses and procedures that are not retracted, in the order they were recorded."""
    rows = await session.scalars(
        select(MedicalRecord)
        .where(
            MedicalRecord.appointment_id == appointment_id,
            MedicalRecord.type.in_((RecordType.DIAGNOSIS, RecordType.PROCEDURE)),
            MedicalRecord.status != RecordStatus.ENTERED_IN_ERROR,
        )
        .order_by(MedicalRecord.created_at, MedicalRecord.id)
    )
    return [from_attributes(CodedEntry, row) for row in rows]


async def active_diagnoses(session: AsyncSession, patient_id: uuid.UUID) -> list[CodedEntry]:
    """The patient's diagnoses that are active and not retracted, in the order they were recorded."""
    rows = await session.scalars(
        select(MedicalRecord)
        .where(
            MedicalRecord.patient_id == patient_id,
            MedicalRecord.type == RecordType.DIAGNOSIS,
            MedicalRecord.clinical_status == ClinicalStatus.ACTIVE,
            MedicalRecord.status != RecordStatus.ENTERED_IN_ERROR,
        )
        .order_by(MedicalRecord.created_at, MedicalRecord.id)
    )
    return [from_attributes(CodedEntry, row) for row in rows]


def diagnosis_code(code: str) -> str | None:
    """`code` (any case, with or without its dot) as the bundled ICD-10-CM code set writes it (`E11.9`), or None
    unless it is a billable code of that set."""
    found = icd10cm_diagnosis(code)
    return None if found is None else found.code


# --- issue 17: reads for the FHIR facade, through the same use cases as GET /medical-records (scoping, audit) ---


@dataclass(frozen=True)
class ClinicalEntry:
    """A diagnosis, allergy or vital signs entry as it stands (`GET /medical-records/{id}`'s fields), with the
    ICD-10-CM code set's description of a diagnosis' code (`code_display`)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    appointment_id: uuid.UUID | None
    type: str
    status: str
    version: int
    recorded_at: datetime
    created_at: datetime
    code: str | None
    description: str | None
    clinical_status: str | None
    onset_date: date | None
    substance: str | None
    reaction: str | None
    severity: str | None
    measured_at: datetime | None
    heart_rate: int | None
    systolic_bp: int | None
    diastolic_bp: int | None
    temperature_c: float | None
    respiratory_rate: int | None
    spo2: int | None
    weight_kg: float | None
    height_cm: float | None
    code_display: str | None = None


def _clinical(row: MedicalRecord) -> ClinicalEntry:
    found = icd10cm_diagnosis(row.code) if row.type == RecordType.DIAGNOSIS and row.code else None
    return from_attributes(ClinicalEntry, row, code_display=found.description if found else None)


async def read_entry(uow: UnitOfWork, record_id: uuid.UUID, kind: RecordType) -> ClinicalEntry:
    """The entry if it is of `kind` and the principal may see and read it (a patient: their own, never retracted),
    audited as `medical_record.read`; an entry of another type is MedicalRecordNotFound, as an unknown id is."""
    from caremesh.records import service  # here: its imports come back to this module

    if (await service.RECORDS.load(uow, record_id)).type != kind:
        raise MedicalRecordNotFound()
    return _clinical(await service.get_record(uow, record_id))


async def search_entries(
    uow: UnitOfWork, kind: RecordType, *, patient_id: uuid.UUID | None = None, limit: int, cursor: str | None = None
) -> tuple[list[ClinicalEntry], str | None]:
    """One page of what `GET /medical-records?type=kind` lists (of one patient, if given), newest first, scoped
    and audited as it is (403 without the type's read permission); and the next cursor."""
    from caremesh.records import service  # here: its imports come back to this module

    filters = MedicalRecordFilters(patient_id=patient_id, type=kind)
    rows, next_cursor = await service.list_records(uow, filters, PageParams(limit=limit, cursor=cursor))
    return [_clinical(row) for row in rows], next_cursor


__all__ += ["ClinicalEntry", "read_entry", "search_entries"]
