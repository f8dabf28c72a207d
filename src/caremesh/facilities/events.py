"""Integration events of facilities. Payloads carry ids, codes, names and kinds; a personnel member's names and
license number stay in the context (a consumer that needs them asks)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from caremesh.platform.messaging.events import IntegrationEvent, integration_event


@dataclass(frozen=True, kw_only=True)
class _FacilityFacts(IntegrationEvent):
    facility_id: uuid.UUID
    code: str
    name: str
    timezone: str


@integration_event("facility.created")
class FacilityCreated(_FacilityFacts):
    pass


@integration_event("facility.updated")
class FacilityUpdated(_FacilityFacts):
    changed_fields: tuple[str, ...]


@integration_event("department.created")
class DepartmentCreated(IntegrationEvent):
    department_id: uuid.UUID
    facility_id: uuid.UUID
    code: str
    name: str


@dataclass(frozen=True, kw_only=True)
class _PersonnelFacts(IntegrationEvent):
    personnel_id: uuid.UUID
    kind: str  # domain.PersonnelKind
    department_id: uuid.UUID | None
    user_id: uuid.UUID | None
    active: bool


@integration_event("personnel.registered")
class PersonnelRegistered(_PersonnelFacts):
    pass


@integration_event("personnel.updated")
class PersonnelUpdated(_PersonnelFacts):
    changed_fields: tuple[str, ...]


FACILITY_CREATED = FacilityCreated.event_type
FACILITY_UPDATED = FacilityUpdated.event_type
DEPARTMENT_CREATED = DepartmentCreated.event_type
PERSONNEL_REGISTERED = PersonnelRegistered.event_type
PERSONNEL_UPDATED = PersonnelUpdated.event_type
