"""Correcting a draft claim (its diagnoses and lines) and withdrawing a claim the payer has not decided yet.

A claim line's position is its invoice line's: an edit keeps, lowers or drops lines against what the invoice gives
each (domain.edited_lines), never above it, and the claim's totals follow its lines. Withdrawing moves nothing
on insurance's accumulators: they move only when a claim is approved, and a withdrawable claim never was.
"""

from __future__ import annotations

import uuid

from caremesh.billing import contract as billing
from caremesh.claims import diagnoses, domain
from caremesh.claims.domain import Action, ClaimStatus, EditedLine, InvoiceLineShare, LineChange
from caremesh.claims.errors import InvalidStatusTransition, NotClaimable
from caremesh.claims.events import ClaimWithdrawn
from caremesh.claims.models import Claim, ClaimLine
from caremesh.claims.records import CLAIMS, _event, _record
from caremesh.claims.schemas import ClaimUpdate
from caremesh.platform.errors import invalid_field
from caremesh.platform.money import money
from caremesh.platform.uow import UnitOfWork

ZERO = domain.ZERO
MAX_NOTE = 500


def _check(action: Action, claim: Claim) -> None:
    if not domain.may(action, claim.status):
        raise InvalidStatusTransition(f"A {claim.status} claim cannot be {action}.")


def invoice_shares(invoice: billing.InvoiceSummary) -> list[InvoiceLineShare]:
    """What the invoice gives each claim line: the same split `create_claim` made."""
    charges = domain.allocate(invoice.total, [line.amount for line in invoice.lines])
    claimable = domain.allocate(invoice.insurance_amount, charges)
    return [
        InvoiceLineShare(n, line.quantity, charge, share)
        for n, (line, charge, share) in enumerate(zip(invoice.lines, charges, claimable, strict=True), start=1)
    ]


async def update_claim(uow: UnitOfWork, claim_id: uuid.UUID, data: ClaimUpdate, expected_version: int | None) -> Claim:
    claim = await CLAIMS.load_version(uow, claim_id, expected_version)
    _check(Action.EDITED, claim)
    notes: list[str] = []
    if data.diagnosis_codes is not None:
        codes = diagnoses.checked(data.diagnosis_codes)
        if codes != claim.diagnosis_codes:
            notes.append(f"diagnoses {', '.join(claim.diagnosis_codes) or '-'} -> {', '.join(codes)}")
            claim.diagnosis_codes = codes
    if data.lines is not None:
        invoice = await billing.find_invoice(uow.session, claim.invoice_id)
        if invoice is None or invoice.status == "void":
            raise NotClaimable("The invoice is void.")
        changes = [LineChange(c.position, c.quantity, c.claimed_amount) for c in data.lines]
        try:
            lines = domain.edited_lines(invoice_shares(invoice), changes)
        except domain.LineEditRefused as refused:
            raise invalid_field(refused.field, refused.message) from None
        if note := _set_lines(claim, invoice, lines):
            notes.append(note)
    changed = await CLAIMS.updated(uow, claim, ["claim"] if notes else [])
    if changed:
        await _record(uow, claim, claim.status, Action.EDITED, note="; ".join(notes)[:MAX_NOTE])
    return claim


def _set_lines(claim: Claim, invoice: billing.InvoiceSummary, lines: list[EditedLine]) -> str | None:
    """Make the claim's lines `lines` (kept rows updated, dropped ones deleted, named-again ones re-added) and its
    totals their sums; what changed, for the history, or None."""
    before = [(line.position, line.quantity, line.charge_amount, line.claimed_amount) for line in claim.lines]
    after = [(line.position, line.quantity, line.charge_amount, line.claimed_amount) for line in lines]
    if before == after:
        return None
    existing = {line.position: line for line in claim.lines}
    kept: list[ClaimLine] = []
    for line in lines:
        row = existing.get(line.position)
        if row is None:
            source = invoice.lines[line.position - 1]
            row = ClaimLine(
                position=line.position,
                code=source.code,
                description=source.description,
                approved_amount=None,
                adjustments=[],
            )
        row.quantity = line.quantity
        row.charge_amount = line.charge_amount
        row.claimed_amount = line.claimed_amount
        kept.append(row)
    claim.lines[:] = kept
    previous = claim.claimed_amount
    claim.total_charge = money(sum((line.charge_amount for line in lines), ZERO))
    claim.claimed_amount = money(sum((line.claimed_amount for line in lines), ZERO))
    positions = ", ".join(str(line.position) for line in lines)
    return f"lines {positions}; claimed {previous:.2f} -> {claim.claimed_amount:.2f}"


async def withdraw(uow: UnitOfWork, claim_id: uuid.UUID, reason: str | None) -> Claim:
    claim = await CLAIMS.load(uow, claim_id, for_update=True)
    _check(Action.WITHDRAWN, claim)
    now = uow.now()
    previous = claim.status
    claim.status = ClaimStatus.WITHDRAWN
    claim.withdrawn_at = now
    claim.updated_at = now
    await uow.session.flush()
    await _record(uow, claim, previous, Action.WITHDRAWN, note=reason)
    uow.publish(_event(ClaimWithdrawn, claim, previous_status=previous, reason=reason, withdrawn_at=now))
    return claim
