"""Integration events of practitioners. Payloads carry ids, names and specialty, no contact details."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar

from caremesh.platform.messaging.events import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class _PractitionerFacts(IntegrationEvent):
    practitioner_id: uuid.UUID
    first_name: str
    last_name: str
    specialty: str


@dataclass(frozen=True, kw_only=True)
class PractitionerRegistered(_PractitionerFacts):
    event_type: ClassVar[str] = "practitioner.registered"


@dataclass(frozen=True, kw_only=True)
class PractitionerUpdated(_PractitionerFacts):
    event_type: ClassVar[str] = "practitioner.updated"

    changed_fields: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PractitionerDeleted(IntegrationEvent):
    event_type: ClassVar[str] = "practitioner.deleted"

    practitioner_id: uuid.UUID


PRACTITIONER_REGISTERED = PractitionerRegistered.event_type
PRACTITIONER_UPDATED = PractitionerUpdated.event_type
PRACTITIONER_DELETED = PractitionerDeleted.event_type
