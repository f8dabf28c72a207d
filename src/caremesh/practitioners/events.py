"""Integration events of practitioners. Payloads carry ids, names and specialty, no contact details."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from caremesh.platform.messaging.events import IntegrationEvent, integration_event


@dataclass(frozen=True, kw_only=True)
class _PractitionerFacts(IntegrationEvent):
    practitioner_id: uuid.UUID
    first_name: str
    last_name: str
    specialty: str


@integration_event("practitioner.registered")
class PractitionerRegistered(_PractitionerFacts):
    pass


@integration_event("practitioner.updated")
class PractitionerUpdated(_PractitionerFacts):
    changed_fields: tuple[str, ...]


@integration_event("practitioner.deleted")
class PractitionerDeleted(IntegrationEvent):
    practitioner_id: uuid.UUID


PRACTITIONER_REGISTERED = PractitionerRegistered.event_type
PRACTITIONER_UPDATED = PractitionerUpdated.event_type
PRACTITIONER_DELETED = PractitionerDeleted.event_type
