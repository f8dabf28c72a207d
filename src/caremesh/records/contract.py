"""What other contexts may use of medical records: the event types (payloads in events.py), the vocabulary, the
not-found error, and an encounter's coded entries (the diagnoses and procedures billing and claims need)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform.mapping import from_attributes
from caremesh.records.domain import ClinicalStatus, RecordStatus, RecordType
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
    "coded_entries",
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
