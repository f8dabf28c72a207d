"""Integration events of claims. On the wire ids are UUID strings, money strings with two decimals, instants
RFC 3339 UTC. claim.adjudicated is also published after a dispute is overturned, with `manual` true."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from caremesh.platform.messaging.events import IntegrationEvent, integration_event


@dataclass(frozen=True, kw_only=True)
class _ClaimEvent(IntegrationEvent):
    claim_id: uuid.UUID
    number: str
    invoice_id: uuid.UUID
    patient_id: uuid.UUID


@integration_event("claim.submitted")
class ClaimSubmitted(_ClaimEvent):
    payer_id: uuid.UUID
    claimed_amount: Decimal
    currency: str
    submitted_at: datetime


@integration_event("claim.adjudicated")
class ClaimAdjudicated(_ClaimEvent):
    status: str
    approved_amount: Decimal
    claimed_amount: Decimal
    manual: bool
    adjudicated_at: datetime


@integration_event("claim.paid")
class ClaimPaid(_ClaimEvent):
    paid_amount: Decimal
    remittance_id: str
    paid_at: datetime


@integration_event("claim.withdrawn")
class ClaimWithdrawn(_ClaimEvent):
    """The clinic took the claim back (a draft, or submitted and not yet decided); its invoice may be claimed
    again. Nothing had moved on the coverage's accumulators."""

    previous_status: str  # draft | submitted
    reason: str | None
    withdrawn_at: datetime


CLAIM_SUBMITTED = ClaimSubmitted.event_type
CLAIM_ADJUDICATED = ClaimAdjudicated.event_type
CLAIM_PAID = ClaimPaid.event_type
CLAIM_WITHDRAWN = ClaimWithdrawn.event_type
