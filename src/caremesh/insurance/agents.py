"""Agents, their commissions and payouts.

A coverage may name the agent who sold it; each premium billed for it records that agent and their percent of the
day. When billing reports the premium's invoice paid (`invoice.paid` with a `premium_billing_id`), the agent's
commission accrues once: `insurance_commissions.invoice_id` is unique and the row is inserted with ON CONFLICT DO
NOTHING, so a redelivered or duplicated event accrues nothing more. A payout pays every commission of an agent
and period accrued until then, under the agent's row lock: two payouts at once pay once, and the second finds
nothing left (409 NOTHING_TO_PAY). A commission accrued for a period after its payout waits for the next payout
of that period.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from caremesh.audit import contract as audit
from caremesh.billing.contract import InvoicePaid
from caremesh.insurance import domain
from caremesh.insurance.domain import CommissionStatus
from caremesh.insurance.errors import AgentCodeExists, NothingToPay
from caremesh.insurance.events import CommissionAccrued, CommissionPayoutMade
from caremesh.insurance.models import AGENT_CODE, Agent, Commission, CommissionPayout, PremiumBilling
from caremesh.insurance.premiums import link_invoice
from caremesh.insurance.repository import AGENTS, COMMISSIONS, PAYOUTS
from caremesh.insurance.schemas import (
    AgentCreate,
    AgentFilters,
    AgentUpdate,
    CommissionFilters,
    CommissionPayoutCreate,
    CommissionPayoutFilters,
)
from caremesh.insurance.service import apply_patch, patch_changes
from caremesh.platform.db import dialect_insert, violates
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.pagination import PageParams
from caremesh.platform.uow import UnitOfWork

# --- agents ----------------------------------------------------------------------------------------------------


async def create_agent(uow: UnitOfWork, data: AgentCreate) -> Agent:
    if await uow.session.scalar(select(Agent.id).where(Agent.code == data.code)) is not None:
        raise AgentCodeExists(f"An agent with code {data.code} exists.")
    now = uow.now()
    agent = Agent(**data.model_dump(), created_at=now, updated_at=now)
    uow.session.add(agent)
    try:
        await uow.session.flush()
    except IntegrityError as error:
        if any(violates(error, name) for name in AGENT_CODE):
            raise AgentCodeExists(f"An agent with code {data.code} exists.") from error
        raise
    audit.record(uow, "agent.create", "agent", agent.id)
    return agent


get_agent = AGENTS.load


async def list_agents(uow: UnitOfWork, filters: AgentFilters, page: PageParams) -> tuple[list[Agent], str | None]:
    return await AGENTS.list(uow, filters, page)


async def update_agent(uow: UnitOfWork, agent_id: uuid.UUID, data: AgentUpdate, expected_version: int | None) -> Agent:
    """A new percent applies to premiums billed from now on; those billed keep theirs."""
    agent = await AGENTS.load_version(uow, agent_id, expected_version)
    await apply_patch(uow, AGENTS, agent, patch_changes(agent, data))
    return agent


# --- commissions -----------------------------------------------------------------------------------------------


async def accrue_commission(uow: UnitOfWork, event: InvoicePaid, envelope: Envelope) -> None:
    """A premium invoice paid in full: its agent's commission, once per invoice."""
    if event.premium_billing_id is None:
        return
    billing = await uow.session.get(PremiumBilling, event.premium_billing_id, with_for_update=True)
    if billing is None:
        return
    link_invoice(billing, event.invoice_id)  # when the invoice.paid arrives before its invoice.issued
    await uow.session.flush()
    if billing.agent_id is None or billing.commission_percent is None:
        return
    row = {
        "id": uuid.uuid4(),
        "agent_id": billing.agent_id,
        "invoice_id": event.invoice_id,
        "premium_billing_id": billing.id,
        "period": billing.period,
        "amount": domain.commission(event.amount_paid, billing.commission_percent),
        "currency": event.currency,
        "status": CommissionStatus.ACCRUED.value,
        "payout_id": None,
        "accrued_at": uow.now(),
    }
    inserted = await uow.session.scalar(
        dialect_insert(uow.session)(Commission).values(row).on_conflict_do_nothing().returning(Commission.id)
    )
    if inserted is None:  # accrued already for this invoice (or this premium)
        return
    uow.publish(
        CommissionAccrued(
            commission_id=inserted,
            agent_id=row["agent_id"],
            invoice_id=event.invoice_id,
            premium_billing_id=billing.id,
            period=billing.period,
            amount=row["amount"],
            currency=event.currency,
            accrued_at=row["accrued_at"],
        )
    )
    audit.record(uow, "commission.accrue", "commission", inserted)


async def list_commissions(
    uow: UnitOfWork, filters: CommissionFilters, page: PageParams
) -> tuple[list[Commission], str | None]:
    return await COMMISSIONS.list(uow, filters, page)


# --- payouts ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payout:
    """A payout with the commissions it paid, for its read model."""

    payout: CommissionPayout
    commission_ids: list[uuid.UUID]

    def __getattr__(self, name: str) -> object:
        return getattr(self.payout, name)


async def pay_commissions(uow: UnitOfWork, data: CommissionPayoutCreate) -> Payout:
    """Pay every commission of the agent and period accrued until now. 404 AGENT_NOT_FOUND, 409 NOTHING_TO_PAY."""
    await AGENTS.load(uow, data.agent_id, for_update=True)  # one payout of an agent at a time
    accrued = list(
        await uow.session.scalars(
            select(Commission)
            .where(
                Commission.agent_id == data.agent_id,
                Commission.period == data.period,
                Commission.status == CommissionStatus.ACCRUED,
            )
            .order_by(Commission.accrued_at, Commission.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    if not accrued:
        raise NothingToPay(f"No accrued commission of {data.period} is left to pay this agent.")
    now = uow.now()
    currency = accrued[0].currency
    payout = CommissionPayout(
        id=uuid.uuid4(),
        agent_id=data.agent_id,
        period=data.period,
        amount=sum((c.amount for c in accrued), Decimal("0.00")),
        currency=currency,
        paid_at=now,
        paid_by=uow.actor.user_id if uow.actor is not None else None,
    )
    uow.session.add(payout)
    await uow.session.flush()
    ids = [c.id for c in accrued]
    await uow.session.execute(
        update(Commission)
        .where(Commission.id.in_(ids))
        .values(status=CommissionStatus.PAID.value, payout_id=payout.id)
        .execution_options(synchronize_session="fetch")
    )
    uow.publish(
        CommissionPayoutMade(
            payout_id=payout.id,
            agent_id=payout.agent_id,
            period=payout.period,
            amount=payout.amount,
            currency=currency,
            commission_ids=tuple(ids),
            paid_at=now,
        )
    )
    audit.record(uow, "commission_payout.create", "commission_payout", payout.id)
    return Payout(payout, ids)


async def _with_commissions(uow: UnitOfWork, payouts: list[CommissionPayout]) -> list[Payout]:
    paid: dict[uuid.UUID, list[uuid.UUID]] = {p.id: [] for p in payouts}
    rows = await uow.session.execute(
        select(Commission.payout_id, Commission.id)
        .where(Commission.payout_id.in_(list(paid)))
        .order_by(Commission.accrued_at, Commission.id)
    )
    for payout_id, commission_id in rows:
        paid[payout_id].append(commission_id)  # type: ignore[index]
    return [Payout(p, paid[p.id]) for p in payouts]


async def list_payouts(
    uow: UnitOfWork, filters: CommissionPayoutFilters, page: PageParams
) -> tuple[list[Payout], str | None]:
    rows, cursor = await PAYOUTS.list(uow, filters, page)
    return await _with_commissions(uow, rows), cursor
