"""The reconciliation report: remittances received, posted and unmatched, and what payers still owe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from caremesh.audit import contract as audit
from caremesh.claims import domain
from caremesh.claims.domain import ClaimStatus
from caremesh.claims.models import Claim, Remittance
from caremesh.platform.errors import invalid_field
from caremesh.platform.money import money
from caremesh.platform.uow import UnitOfWork

ZERO = domain.ZERO


# --- reconciliation report --------------------------------------------------------------------------------


@dataclass
class PayerTotal:
    payer_code: str
    remittances: int = 0
    posted_amount: Decimal = ZERO
    unmatched_amount: Decimal = ZERO


@dataclass(frozen=True)
class Outstanding:
    """The approved claims still waiting for payment."""

    count: int
    amount: Decimal


@dataclass
class Report:
    from_: date
    to: date
    currency: str
    remittances: int
    posted_count: int
    posted_amount: Decimal
    unmatched_count: int
    unmatched_amount: Decimal
    unmatched: list[dict[str, Any]]
    by_payer: list[PayerTotal]
    outstanding: Outstanding


async def report(uow: UnitOfWork, from_: date, to: date) -> Report:
    if from_ > to:
        raise invalid_field("from", "must not be after `to`")
    remittances = list(
        await uow.session.scalars(
            select(Remittance)
            .where(Remittance.received_on >= from_, Remittance.received_on <= to)
            .order_by(Remittance.received_at, Remittance.id)
        )
    )
    payers: dict[str, PayerTotal] = {}
    unmatched: list[dict[str, Any]] = []
    posted_count = 0
    for remittance in remittances:
        totals = payers.setdefault(remittance.payer_code, PayerTotal(remittance.payer_code))
        totals.remittances += 1
        totals.posted_amount += remittance.posted_amount
        totals.unmatched_amount += remittance.unmatched_amount
        for item in remittance.items:
            if item.outcome == "posted":
                posted_count += 1
            else:
                unmatched.append(
                    {
                        "remittance_id": remittance.remittance_id,
                        "payer_code": remittance.payer_code,
                        "claim_number": item.claim_number,
                        "paid_amount": item.paid_amount,
                        "reason": item.reason,
                    }
                )
    outstanding = list(
        await uow.session.scalars(
            select(Claim.approved_amount).where(
                Claim.status.in_([ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED])
            )
        )
    )
    audit.record(uow, "reconciliation.report", "remittance", None)
    return Report(
        from_=from_,
        to=to,
        currency=uow.settings.app.currency,
        remittances=len(remittances),
        posted_count=posted_count,
        posted_amount=money(sum((p.posted_amount for p in payers.values()), ZERO)),
        unmatched_count=len(unmatched),
        unmatched_amount=money(sum((u["paid_amount"] for u in unmatched), ZERO)),
        unmatched=unmatched,
        by_payer=sorted(payers.values(), key=lambda p: p.payer_code),
        outstanding=Outstanding(len(outstanding), money(sum((a or ZERO for a in outstanding), ZERO))),
    )
