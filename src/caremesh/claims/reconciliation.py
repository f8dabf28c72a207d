"""Remittances as received (a list, newest first, and one with its items), and the reconciliation report:
remittances received, posted and unmatched, and what payers still owe."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select, tuple_

from caremesh.audit import contract as audit
from caremesh.claims import domain
from caremesh.claims.domain import ClaimStatus
from caremesh.claims.errors import RemittanceNotFound
from caremesh.claims.models import Claim, Remittance
from caremesh.claims.schemas import RemittanceFilters
from caremesh.platform.errors import invalid_field
from caremesh.platform.money import money
from caremesh.platform.pagination import PageParams, decode_cursor, encode_cursor
from caremesh.platform.uow import UnitOfWork

ZERO = domain.ZERO

REMITTANCES = audit.repository(
    Remittance,
    RemittanceNotFound,
    entity="remittance",
    criteria={"from_": lambda day: Remittance.received_on >= day, "to": lambda day: Remittance.received_on <= day},
)
NEWEST_FIRST = (Remittance.received_at, Remittance.id)


# --- remittances as received ------------------------------------------------------------------------------


async def list_remittances(
    uow: UnitOfWork, filters: RemittanceFilters, page: PageParams
) -> tuple[list[Remittance], str | None]:
    """The remittances matching `filters`, newest first (the platform's pages run oldest first; the cursors are
    the same kind)."""
    if filters.from_ is not None and filters.to is not None and filters.from_ > filters.to:
        raise invalid_field("from", "must not be after `to`")
    query = REMITTANCES.matching(uow, filters)
    if page.cursor:
        values = decode_cursor(page.cursor, NEWEST_FIRST)
        bound = [bindparam(None, v, type_=c.type) for v, c in zip(values, NEWEST_FIRST, strict=True)]
        query = query.where(tuple_(*NEWEST_FIRST) < tuple_(*bound))
    ordered = query.order_by(*(column.desc() for column in NEWEST_FIRST)).limit(page.limit + 1)
    rows = list((await uow.session.scalars(ordered)).all())
    cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        cursor = encode_cursor([getattr(rows[-1], column.key) for column in NEWEST_FIRST])
    audit.record(uow, "remittance.list", "remittance", None)
    return rows, cursor


async def get_remittance(uow: UnitOfWork, remittance_pk: uuid.UUID) -> Remittance:
    return await REMITTANCES.get(uow, remittance_pk)


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
