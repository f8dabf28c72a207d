"""Integration events of insurance. On the wire ids are UUID strings, dates `YYYY-MM-DD`, instants RFC 3339 UTC."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

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
    agent_id: uuid.UUID | None = None  # the agent who sold it (issue 16); missing in events published before


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


@integration_event("premium.billed")
class PremiumBilled(IntegrationEvent):
    """A coverage's premium for one month is due: billing issues one invoice of kind `premium` per
    `premium_billing_id` (insurance creates at most one per coverage and period)."""

    premium_billing_id: uuid.UUID
    coverage_id: uuid.UUID
    patient_id: uuid.UUID
    scheme_id: uuid.UUID
    agent_id: uuid.UUID | None
    period: str  # YYYY-MM
    amount: Decimal  # the monthly premium at the member's age on the period's first day
    currency: str
    description: str  # e.g. "Premium 2026-12, GOLD (member M-1001)"
    billed_at: datetime


@integration_event("commission.accrued")
class CommissionAccrued(IntegrationEvent):
    """A paid premium invoice earned its coverage's agent a commission (once per invoice)."""

    commission_id: uuid.UUID
    agent_id: uuid.UUID
    invoice_id: uuid.UUID
    premium_billing_id: uuid.UUID
    period: str  # YYYY-MM
    amount: Decimal
    currency: str
    accrued_at: datetime


@integration_event("commission_payout.made")
class CommissionPayoutMade(IntegrationEvent):
    """An agent was paid every commission of a period accrued until then."""

    payout_id: uuid.UUID
    agent_id: uuid.UUID
    period: str  # YYYY-MM
    amount: Decimal
    currency: str
    commission_ids: tuple[uuid.UUID, ...]
    paid_at: datetime


COMMISSION_ACCRUED = CommissionAccrued.event_type
COMMISSION_PAYOUT_MADE = CommissionPayoutMade.event_type
COVERAGE_CREATED = CoverageCreated.event_type
PREMIUM_BILLED = PremiumBilled.event_type
SCHEME_SUSPENDED = SchemeSuspended.event_type
SCHEME_ACTIVATED = SchemeActivated.event_type
