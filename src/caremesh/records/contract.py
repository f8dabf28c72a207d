"""What other contexts may use of medical records: the event types (payloads in events.py), the vocabulary and the
not-found error."""

from __future__ import annotations

from caremesh.records.domain import ClinicalStatus, RecordStatus, RecordType
from caremesh.records.errors import MedicalRecordNotFound
from caremesh.records.events import (
    MEDICAL_RECORD_AMENDED,
    MEDICAL_RECORD_CREATED,
    MEDICAL_RECORD_RETRACTED,
    MedicalRecordAmended,
    MedicalRecordCreated,
    MedicalRecordRetracted,
)

__all__ = [
    "MEDICAL_RECORD_AMENDED",
    "MEDICAL_RECORD_CREATED",
    "MEDICAL_RECORD_RETRACTED",
    "ClinicalStatus",
    "MedicalRecordAmended",
    "MedicalRecordCreated",
    "MedicalRecordNotFound",
    "MedicalRecordRetracted",
    "RecordStatus",
    "RecordType",
]
