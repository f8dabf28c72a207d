"""Integration events of insurance. On the wire ids are UUID strings, dates `YYYY-MM-DD`, instants RFC 3339 UTC."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar

from caremesh.platform.messaging.events import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class CoverageCreated(IntegrationEvent):
    event_type: ClassVar[str] = "coverage.created"

    coverage_id: uuid.UUID
    patient_id: uuid.UUID
    scheme_id: uuid.UUID
    payer_id: uuid.UUID
    valid_from: date
    valid_to: date | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class SchemeSuspended(IntegrationEvent):
    event_type: ClassVar[str] = "scheme.suspended"

    scheme_id: uuid.UUID
    payer_id: uuid.UUID
    suspended_at: datetime


@dataclass(frozen=True, kw_only=True)
class SchemeActivated(IntegrationEvent):
    event_type: ClassVar[str] = "scheme.activated"

    scheme_id: uuid.UUID
    payer_id: uuid.UUID
    activated_at: datetime


COVERAGE_CREATED = CoverageCreated.event_type
SCHEME_SUSPENDED = SchemeSuspended.event_type
SCHEME_ACTIVATED = SchemeActivated.event_type
