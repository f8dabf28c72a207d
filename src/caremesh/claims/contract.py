"""What other contexts may use of claims: the event names. Claims are read through the API."""

from __future__ import annotations

from caremesh.claims.events import (
    CLAIM_ADJUDICATED,
    CLAIM_PAID,
    CLAIM_SUBMITTED,
    ClaimAdjudicated,
    ClaimPaid,
    ClaimSubmitted,
)

__all__ = ["CLAIM_ADJUDICATED", "CLAIM_PAID", "CLAIM_SUBMITTED", "ClaimAdjudicated", "ClaimPaid", "ClaimSubmitted"]
