"""What other contexts may use of medical records: the event types (payloads in events.py), the vocabulary, the
not-found error, an encounter's coded entries (the diagnoses and procedures billing and claims need), a patient's
active diagnoses, and the ICD-10-CM code set's word on a code."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform.mapping import from_attributes
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
