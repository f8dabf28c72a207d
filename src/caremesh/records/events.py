"""Integration events of medical records. Payloads carry ids, the entry's type and version, never clinical content
(no code, no value, no text, no retraction reason): a consumer that needs the content asks the contract."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from caremesh.platform.messaging.events import IntegrationEvent, integration_event


@dataclass(frozen=True, kw_only=True)
class MedicalRecordChanged(IntegrationEvent):
    record_id: uuid.UUID
    patient_id: uuid.UUID
    appointment_id: uuid.UUID | None
    type: str  # domain.RecordType
    version: int
    author_id: uuid.UUID | None
    recorded_at: datetime


@integration_event("medical_record.created")
class MedicalRecordCreated(MedicalRecordChanged):
    pass


@integration_event("medical_record.amended")
class MedicalRecordAmended(MedicalRecordChanged):
    pass


@integration_event("medical_record.retracted")
class MedicalRecordRetracted(MedicalRecordChanged):
    pass


MEDICAL_RECORD_CREATED = MedicalRecordCreated.event_type
MEDICAL_RECORD_AMENDED = MedicalRecordAmended.event_type
MEDICAL_RECORD_RETRACTED = MedicalRecordRetracted.event_type
