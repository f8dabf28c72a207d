"""Integration events of patients. Payloads carry ids and contact details, never clinical data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from caremesh.platform.messaging.events import IntegrationEvent, integration_event


@dataclass(frozen=True, kw_only=True)
class _PatientContact(IntegrationEvent):
    patient_id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    has_insurance: bool


@integration_event("patient.registered")
class PatientRegistered(_PatientContact):
    pass


@integration_event("patient.updated")
class PatientUpdated(_PatientContact):
    changed_fields: tuple[str, ...]


@integration_event("patient.deleted")
class PatientDeleted(IntegrationEvent):
    patient_id: uuid.UUID


PATIENT_REGISTERED = PatientRegistered.event_type
PATIENT_UPDATED = PatientUpdated.event_type
PATIENT_DELETED = PatientDeleted.event_type
