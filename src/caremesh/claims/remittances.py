"""Remittances: a payer's payments posted once to the claims and to their invoices."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from caremesh.audit import contract as audit
from caremesh.billing import contract as billing
from caremesh.claims import domain
from caremesh.claims.domain import Action, ClaimStatus
from caremesh.claims.errors import RemittanceConflict
from caremesh.claims.events import ClaimPaid
from caremesh.claims.models import ONE_REMITTANCE, Remittance, RemittanceItem
from caremesh.claims.records import CLAIMS_BY_NUMBER, _cents, _event, _record
from caremesh.claims.schemas import RemittanceIn
from caremesh.platform.db import violates
from caremesh.platform.errors import DomainError
from caremesh.platform.money import money
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

ZERO = domain.ZERO


def _fingerprint(data: RemittanceIn) -> str:
    """The same remittance whatever the order of its items, the spelling of its amounts or its format."""
    canonical = [
        data.payer_code,
        data.remittance_id,
        sorted([i.claim_number, f"{i.paid_amount:.2f}", sorted(i.adjustment_codes)] for i in data.items),
    ]
    return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()


async def _existing_remittance(uow: UnitOfWork, data: RemittanceIn) -> Remittance | None:
    return await uow.session.scalar(
        select(Remittance)
        .where(Remittance.payer_code == data.payer_code, Remittance.remittance_id == data.remittance_id)
        .execution_options(populate_existing=True)
    )


def _replay(remittance: Remittance, fingerprint: str) -> Remittance:
    if remittance.fingerprint != fingerprint:
        raise RemittanceConflict(
            f"Remittance {remittance.remittance_id} of {remittance.payer_code} was processed with other items."
        )
    return remittance


async def process_remittance(uow: UnitOfWork, data: RemittanceIn, format_: str) -> tuple[Remittance, bool]:
    """Post a remittance's payments to claims and invoices: (remittance, replayed). A remittance is processed once
    per (payer, remittance id); the same one again answers what the first did and posts nothing."""
    fingerprint = _fingerprint(data)
    existing = await _existing_remittance(uow, data)
    if existing is not None:
        return _replay(existing, fingerprint), True
    now = uow.now()
    remittance = Remittance(
        id=uuid.uuid4(),
        remittance_id=data.remittance_id,
        payer_code=data.payer_code,
        format=format_,
        fingerprint=fingerprint,
        paid_total=money(sum((i.paid_amount for i in data.items), ZERO)),
        posted_amount=ZERO,
        unmatched_amount=ZERO,
        result={},
        received_at=now,
        received_on=clinic_date(now),
        items=[],
    )
    try:
        # The row claims the remittance first: a concurrent copy waits here, then replays what this one did.
        async with uow.session.begin_nested():
            uow.session.add(remittance)
            await uow.session.flush()
    except IntegrityError as error:
        if any(violates(error, name) for name in ONE_REMITTANCE):
            winner = await _existing_remittance(uow, data)
            if winner is not None:
                return _replay(winner, fingerprint), True
        raise
    items: list[RemittanceItem] = []
    seen: set[str] = set()
    # Claims are locked in number order, so two remittances naming the same claims cannot deadlock.
    order = sorted(range(len(data.items)), key=lambda n: data.items[n].claim_number)
    for n in order:
        item = data.items[n]
        if item.claim_number in seen:
            items.append(_item(n, item, None, "DUPLICATE_ITEM"))
            continue
        seen.add(item.claim_number)
        claim_id, problem = await _post(uow, data, item)
        items.append(_item(n, item, claim_id, problem))
    items.sort(key=lambda i: i.position)
    remittance.items.extend(items)
    posted = [i for i in items if i.outcome == "posted"]
    unmatched = [i for i in items if i.outcome == "unmatched"]
    remittance.posted_amount = money(sum((i.paid_amount for i in posted), ZERO))
    remittance.unmatched_amount = money(sum((i.paid_amount for i in unmatched), ZERO))
    remittance.result = {
        "posted": [
            {
                "claim_number": i.claim_number,
                "claim_id": str(i.claim_id),
                "paid_amount": f"{i.paid_amount:.2f}",
                "adjustment_codes": i.adjustment_codes,
            }
            for i in posted
        ],
        "unmatched": [
            {"claim_number": i.claim_number, "paid_amount": f"{i.paid_amount:.2f}", "reason": i.reason}
            for i in unmatched
        ],
    }
    await uow.session.flush()
    audit.record(uow, "remittance.process", "remittance", remittance.id)
    return remittance, False


def _item(position: int, item: Any, claim_id: uuid.UUID | None, problem: str | None) -> RemittanceItem:
    return RemittanceItem(
        position=position + 1,
        claim_number=item.claim_number,
        claim_id=claim_id,
        paid_amount=item.paid_amount,
        adjustment_codes=list(item.adjustment_codes),
        outcome="unmatched" if problem else "posted",
        reason=problem,
    )


async def _post(uow: UnitOfWork, data: RemittanceIn, item: Any) -> tuple[uuid.UUID | None, str | None]:
    """Post one item: (claim id, None) when posted, (claim id or None, reason) when not."""
    claim = await CLAIMS_BY_NUMBER.find(uow, item.claim_number, for_update=True)
    if claim is None:
        return None, "CLAIM_NOT_FOUND"
    if claim.payer_code != data.payer_code:
        return claim.id, "PAYER_MISMATCH"
    if claim.status == ClaimStatus.PAID:
        return claim.id, "ALREADY_PAID"
    if not domain.may(Action.PAID, claim.status):
        return claim.id, "CLAIM_NOT_APPROVED"
    if item.paid_amount > (claim.approved_amount or ZERO):
        return claim.id, "AMOUNT_EXCEEDS_APPROVED"
    if item.paid_amount > 0:
        try:
            await billing.record_insurance_payment(uow, claim.invoice_id, item.paid_amount)
        except DomainError as error:  # the invoice was voided, or its insurance share is already paid
            return claim.id, error.code
    now = uow.now()
    previous = claim.status
    claim.status = ClaimStatus.PAID
    claim.paid_amount = item.paid_amount
    claim.paid_at = now
    claim.updated_at = now
    await uow.session.flush()
    await _record(
        uow,
        claim,
        previous,
        Action.PAID,
        note=f"remittance {data.remittance_id}",
        approved_amount=claim.approved_amount,
    )
    uow.publish(
        _event(ClaimPaid, claim, paid_amount=_cents(item.paid_amount), remittance_id=data.remittance_id, paid_at=now)
    )
    return claim.id, None
