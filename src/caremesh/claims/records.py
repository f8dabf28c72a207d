"""Helpers the claims use cases share: loading claims and disputes, recording a claim's transitions, building its
events. Claims and disputes are the clinic's (no patient-role principal reads them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import select

from caremesh.audit import contract as audit
from caremesh.claims.domain import Action
from caremesh.claims.errors import ClaimNotFound, DisputeNotFound
from caremesh.claims.models import Claim, ClaimHistory, Dispute
from caremesh.platform.mapping import from_attributes
from caremesh.platform.messaging.events import IntegrationEvent
from caremesh.platform.uow import UnitOfWork

EventT = TypeVar("EventT", bound=IntegrationEvent)

CLAIMS = audit.repository(Claim, ClaimNotFound, entity="claim", order_by=[Claim.created_at, Claim.id])
CLAIMS_BY_NUMBER = audit.repository(Claim, ClaimNotFound, entity="claim", key=Claim.number)
DISPUTES = audit.repository(Dispute, DisputeNotFound, entity="dispute", order_by=[Dispute.created_at, Dispute.id])


async def _record(
    uow: UnitOfWork,
    claim: Claim,
    previous: str | None,
    action: Action,
    *,
    note: str | None = None,
    approved_amount: Decimal | None = None,
) -> None:
    last = await uow.session.scalar(
        select(ClaimHistory.sequence)
        .where(ClaimHistory.claim_id == claim.id)
        .order_by(ClaimHistory.sequence.desc())
        .limit(1)
    )
    uow.session.add(
        ClaimHistory(
            claim_id=claim.id,
            sequence=(last or 0) + 1,
            from_status=previous,
            to_status=claim.status,
            action=action,
            actor_id=None if uow.actor is None else uow.actor.user_id,
            note=note,
            approved_amount=approved_amount,
            occurred_at=uow.now(),
        )
    )
    audit.record(uow, f"claim.{action}", "claim", claim.id)


def _event(cls: type[EventT], claim: Claim, **given: Any) -> EventT:
    """The claim event `cls`: the claim's id, and every field not `given` read from the claim's column of the same
    name (number, invoice, patient, payer, currency, status)."""
    return from_attributes(cls, claim, claim_id=claim.id, **given)


def _cents(amount: Decimal) -> Decimal:
    """Two decimals, as the events carry money."""
    return Decimal(f"{amount:.2f}")
