"""Integration events of insurance. On the wire ids are UUID strings, dates `YYYY-MM-DD`, instants RFC 3339 UTC."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from caremesh.platform.messaging.events import IntegrationEvent, integration_event


@integration_event("coverage.created")
class CoverageCreated(IntegrationEvent):
    coverage_id: uuid.UUID
    patient_id: uuid.UUID
    scheme_id: uuid.UUID
    payer_id: uuid.UUID
    valid_from: date
    valid_to: date | None
    created_at: datetime


@integration_event("scheme.suspended")
class SchemeSuspended(IntegrationEvent):
    scheme_id: uuid.UUID
    payer_id: uuid.UUID
    suspended_at: datetime


@integration_event("scheme.activated")
class SchemeActivated(IntegrationEvent):
    scheme_id: uuid.UUID
    payer_id: uuid.UUID
    activated_at: datetime


COVERAGE_CREATED = CoverageCreated.event_type
SCHEME_SUSPENDED = SchemeSuspended.event_type
SCHEME_ACTIVATED = SchemeActivated.event_type
