"""What other contexts may use of claims: the event names, and the remittances received on a clinic day (for the
daily settlement of payments). Claims themselves are read through the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.claims.events import (
    CLAIM_ADJUDICATED,
    CLAIM_PAID,
    CLAIM_SUBMITTED,
    CLAIM_WITHDRAWN,
    ClaimAdjudicated,
    ClaimPaid,
    ClaimSubmitted,
    ClaimWithdrawn,
)
from caremesh.claims.models import Remittance

__all__ = [
    "CLAIM_ADJUDICATED",
    "CLAIM_PAID",
    "CLAIM_SUBMITTED",
    "CLAIM_WITHDRAWN",
    "ClaimAdjudicated",
    "ClaimPaid",
    "ClaimSubmitted",
    "ClaimWithdrawn",
    "RemittancesReceived",
    "remittances_received",
]


@dataclass(frozen=True)
class RemittancesReceived:
    """One payer's remittances processed on a clinic day: how many, and what they posted to claims."""

    payer_code: str
    count: int
    posted_amount: Decimal


async def remittances_received(session: AsyncSession, day: date) -> list[RemittancesReceived]:
    """The remittances processed on clinic day `day`, per payer (by payer code)."""
    rows = await session.execute(
        select(Remittance.payer_code, func.count(), func.coalesce(func.sum(Remittance.posted_amount), 0))
        .where(Remittance.received_on == day)
        .group_by(Remittance.payer_code)
        .order_by(Remittance.payer_code)
    )
    return [
        RemittancesReceived(payer_code=code, count=count, posted_amount=Decimal(total).quantize(Decimal("0.01")))
        for code, count, total in rows
    ]
