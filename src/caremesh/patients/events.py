"""Integration events of patients. Payloads carry ids and contact details, never clinical data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar

from caremesh.platform.messaging.events import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class _PatientContact(IntegrationEvent):
    patient_id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    has_insurance: bool


@dataclass(frozen=True, kw_only=True)
class PatientRegistered(_PatientContact):
    event_type: ClassVar[str] = "patient.registered"


@dataclass(frozen=True, kw_only=True)
class PatientUpdated(_PatientContact):
    event_type: ClassVar[str] = "patient.updated"

    changed_fields: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PatientDeleted(IntegrationEvent):
    event_type: ClassVar[str] = "patient.deleted"

    patient_id: uuid.UUID


PATIENT_REGISTERED = PatientRegistered.event_type
PATIENT_UPDATED = PatientUpdated.event_type
PATIENT_DELETED = PatientDeleted.event_type
