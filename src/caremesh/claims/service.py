"""Claims: created from an invoice, submitted, adjudicated against the patient's coverage (insurance's contract),
disputed, and paid by payers' remittances posted once to the claim and to the invoice (billing's contract).

Locks, always in this order: the claim row, then insurance's coverage row (adjudication), then billing's invoice row
(remittances). Every transition of a claim is appended to its history in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from caremesh.audit import contract as audit
from caremesh.billing import contract as billing
from caremesh.claims import diagnoses, domain
from caremesh.claims.domain import Action, Adjustment, ClaimStatus, LineOutcome
from caremesh.claims.errors import (
    ClaimExists,
    ClaimWindowExpired,
    DiagnosisRequired,
    DisputeExists,
    DisputeResolved,
    DuplicateClaim,
    InvalidStatusTransition,
    NotClaimable,
)
from caremesh.claims.events import ClaimAdjudicated, ClaimSubmitted
from caremesh.claims.models import (
    ONE_OPEN_CLAIM_PER_INVOICE,
    ONE_OPEN_DISPUTE_PER_CLAIM,
    Claim,
    ClaimHistory,
    ClaimLine,
    Dispute,
)
from caremesh.claims.records import CLAIMS, DISPUTES, _cents, _event, _record
from caremesh.claims.schemas import ClaimCreate, ClaimFilters, DisputeCreate, DisputeFilters, DisputeResolve
from caremesh.insurance import contract as insurance
from caremesh.patients import contract as patients
from caremesh.platform.db import violates
from caremesh.platform.errors import invalid_field
from caremesh.platform.money import money
from caremesh.platform.numbering import next_number
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

NUMBER_PREFIX = "CLM"
ZERO = domain.ZERO


# --- reading ----------------------------------------------------------------------------------------------


async def get_claim(uow: UnitOfWork, claim_id: uuid.UUID) -> Claim:
    return await CLAIMS.get(uow, claim_id)


async def list_claims(uow: UnitOfWork, filters: ClaimFilters, page: PageParams) -> tuple[list[Claim], str | None]:
    return await CLAIMS.list(uow, filters, page, record_each=False)


async def history(uow: UnitOfWork, claim_id: uuid.UUID, page: PageParams) -> tuple[list[ClaimHistory], str | None]:
    """The claim's transitions, oldest first (one page)."""
    await CLAIMS.load(uow, claim_id)
    query = select(ClaimHistory).where(ClaimHistory.claim_id == claim_id)
    rows, cursor = await paginate(uow.session, query, order_by=[ClaimHistory.sequence, ClaimHistory.id], params=page)
    audit.record(uow, "claim.history_read", "claim", claim_id)
    return rows, cursor


# --- creation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Payer:
    payer: insurance.PayerSummary
    coverage_id: uuid.UUID | None
    member_id: str


async def _payer_of(uow: UnitOfWork, patient: patients.PatientSummary, on: date) -> _Payer | None:
    """The coverage that applies on the service date (insurance decides which), else the payer of the patient's
    BIN/PCN with the member id on the patient's record."""
    session = uow.session
    coverage = await insurance.applicable_coverage(session, patient.id, on)
    if coverage is not None:
        payer = await insurance.find_payer(session, coverage.payer_id)
        if payer is not None:
            return _Payer(payer, coverage.id, coverage.member_id)
    payer = await insurance.payer_for(session, patient.insurance_bin, patient.insurance_pcn)
    if payer is None or not patient.insurance_member_id:
        return None
    return _Payer(payer, None, patient.insurance_member_id)


async def create_claim(uow: UnitOfWork, data: ClaimCreate) -> Claim:
    session = uow.session
    explicit = diagnoses.checked(data.diagnosis_codes) if data.diagnosis_codes else None
    invoice = await billing.find_invoice(session, data.invoice_id)
    if invoice is None:
        raise billing.InvoiceNotFound()
    if invoice.status == "void":
        raise NotClaimable("The invoice is void.")
    if invoice.insurance_amount <= 0:
        raise NotClaimable("The invoice has no insurance share.")
    await _check_no_open_claim(uow, invoice.id)
    patient = await patients.find_patient(session, invoice.patient_id)
    if patient is None:
        raise NotClaimable("The invoice's patient no longer exists.")
    if invoice.insurance_category is None:  # premiums: the member pays the insurer
        raise NotClaimable("This invoice is not claimed from an insurer.")
    category = insurance.Category(invoice.insurance_category)  # the category billing split it under
    payer = await _payer_of(uow, patient, invoice.service_date)
    if payer is None:
        raise NotClaimable("No payer: the patient has no coverage and no insurance identifiers that name a payer.")
    charges = domain.allocate(invoice.total, [line.amount for line in invoice.lines])
    claimed = domain.allocate(invoice.insurance_amount, charges)
    now = uow.now()
    claim = Claim(
        id=uuid.uuid4(),
        invoice_id=invoice.id,
        invoice_number=invoice.number,
        patient_id=invoice.patient_id,
        practitioner_id=invoice.practitioner_id,
        payer_id=payer.payer.id,
        payer_code=payer.payer.code,
        coverage_id=payer.coverage_id,
        member_id=payer.member_id,
        category=category,
        service_date=invoice.service_date,
        status=ClaimStatus.DRAFT,
        currency=invoice.currency,
        total_charge=invoice.total,
        claimed_amount=invoice.insurance_amount,
        approved_amount=None,
        paid_amount=ZERO,
        recorded_deductible=ZERO,
        recorded_payer_amount=ZERO,
        diagnosis_codes=explicit if explicit is not None else await diagnoses.recorded(session, invoice),
        created_at=now,
        updated_at=now,
        lines=[
            ClaimLine(
                position=n,
                code=line.code,
                description=line.description,
                quantity=line.quantity,
                charge_amount=charge,
                claimed_amount=asked,
                approved_amount=None,
                adjustments=[],
            )
            for n, (line, charge, asked) in enumerate(zip(invoice.lines, charges, claimed, strict=True), start=1)
        ],
    )
    try:
        # Numbered inside the savepoint: a lost race for the invoice gives the number back.
        async with session.begin_nested():
            claim.number = await next_number(session, NUMBER_PREFIX, clinic_date(now).year)
            session.add(claim)
            await session.flush()
    except IntegrityError as error:
        if any(violates(error, name) for name in ONE_OPEN_CLAIM_PER_INVOICE):
            await _check_no_open_claim(uow, invoice.id)
        raise
    await _record(uow, claim, None, Action.CREATED)
    return claim


async def _check_no_open_claim(uow: UnitOfWork, invoice_id: uuid.UUID) -> None:
    open_claim = await uow.session.scalar(
        select(Claim).where(Claim.invoice_id == invoice_id, Claim.status.not_in(domain.CLOSED_UNPAID))
    )
    if open_claim is not None:
        raise ClaimExists(
            f"Claim {open_claim.number} is open for this invoice.", extra={"claim_id": str(open_claim.id)}
        )


# --- submission -------------------------------------------------------------------------------------------


async def _serialise_member(uow: UnitOfWork, member_id: str) -> None:
    """Submissions for one member run one at a time, so two duplicates cannot both pass the check. SQLite's write
    transactions are serialised already."""
    if uow.session.bind.dialect.name == "postgresql":
        await uow.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"claims.member:{member_id}"}
        )


def _check(action: Action, claim: Claim) -> None:
    if not domain.may(action, claim.status):
        raise InvalidStatusTransition(f"A {claim.status} claim cannot be {action}.")


async def _refuse_duplicate(uow: UnitOfWork, claim: Claim, now: datetime) -> None:
    """A claim with the same member, provider, amount and service date submitted within the window is a duplicate;
    a window of 0 hours turns the check off."""
    settings = uow.settings.claims
    if settings.claim_duplicate_window_hours <= 0:
        return
    candidates = await uow.session.scalars(
        select(Claim).where(
            Claim.member_id == claim.member_id,
            Claim.service_date == claim.service_date,
            Claim.status.in_(domain.WITH_PAYER),
            Claim.submitted_at >= domain.duplicate_since(now, settings.claim_duplicate_window_hours),
            Claim.id != claim.id,
        )
    )
    # Money is text on SQLite: the amount is compared here, not in SQL.
    for other in candidates:
        if other.practitioner_id == claim.practitioner_id and other.claimed_amount == claim.claimed_amount:
            raise DuplicateClaim(
                f"Claim {other.number} was submitted for the same member, provider, amount and service date.",
                extra={"duplicate_of": str(other.id)},
            )


async def submit(uow: UnitOfWork, claim_id: uuid.UUID) -> Claim:
    claim = await CLAIMS.load(uow, claim_id, for_update=True)
    _check(Action.SUBMITTED, claim)
    now = uow.now()
    settings = uow.settings.claims
    if domain.window_expired(claim.service_date, clinic_date(now), settings.claim_window_days):
        raise ClaimWindowExpired(
            f"The service date {claim.service_date} is more than {settings.claim_window_days} days ago."
        )
    invoice = await billing.find_invoice(uow.session, claim.invoice_id)
    if invoice is None or invoice.status == "void":
        raise NotClaimable("The invoice is void.")
    if not claim.diagnosis_codes:  # a draft made before the doctor recorded them takes them now
        claim.diagnosis_codes = await diagnoses.recorded(uow.session, invoice)
    if not claim.diagnosis_codes:
        raise DiagnosisRequired("Record the visit's diagnosis (or the patient's) before submitting the claim.")
    await _serialise_member(uow, claim.member_id)
    await _refuse_duplicate(uow, claim, now)
    previous = claim.status
    claim.status = ClaimStatus.SUBMITTED
    claim.submitted_at = now
    claim.updated_at = now
    await uow.session.flush()
    await _record(uow, claim, previous, Action.SUBMITTED)
    uow.publish(_event(ClaimSubmitted, claim, claimed_amount=_cents(claim.claimed_amount), submitted_at=now))
    return claim


# --- adjudication -----------------------------------------------------------------------------------------


def _set_lines(claim: Claim, approved: Sequence[Decimal], found: Sequence[Sequence[Adjustment]]) -> None:
    for line, amount, adjustments in zip(claim.lines, approved, found, strict=True):
        line.approved_amount = amount
        line.adjustments = [
            {"group_code": a.group_code, "reason_code": a.reason_code, "amount": f"{a.amount:.2f}"} for a in adjustments
        ]


async def _decide(
    uow: UnitOfWork,
    claim: Claim,
    action: Action,
    approved: Sequence[Decimal],
    found: Sequence[Sequence[Adjustment]],
    *,
    deductible: Decimal = ZERO,
    note: str | None = None,
    rejection: tuple[str, str] | None = None,
) -> Claim:
    """Set the claim's decision, move the accumulators by what changed, record and announce it."""
    total = money(sum(approved, ZERO))
    payer_delta = total - claim.recorded_payer_amount
    deductible_delta = deductible
    if claim.coverage_id is not None and (payer_delta > 0 or deductible_delta > 0):
        await insurance.record_approved_claim(
            uow, claim.coverage_id, claim.category, claim.service_date, deductible_delta, max(payer_delta, ZERO)
        )
        claim.recorded_payer_amount += max(payer_delta, ZERO)
        claim.recorded_deductible += deductible_delta
    now = uow.now()
    previous = claim.status
    _set_lines(claim, approved, found)
    claim.approved_amount = total
    claim.status = domain.decided_status(total, claim.claimed_amount)
    if claim.status == ClaimStatus.REJECTED:
        code, reason = rejection or domain.rejection_reason(found) or ("96", "Non-covered charge(s)")
        claim.rejection_reason_code, claim.rejection_reason = code, reason
    else:
        claim.rejection_reason_code = claim.rejection_reason = None
    claim.adjudicated_at = now
    claim.updated_at = now
    await uow.session.flush()
    await _record(uow, claim, previous, action, note=note, approved_amount=total)
    uow.publish(
        _event(
            ClaimAdjudicated,
            claim,
            approved_amount=_cents(total),
            claimed_amount=_cents(claim.claimed_amount),
            manual=action != Action.ADJUDICATED,
            adjudicated_at=now,
        )
    )
    return claim


async def process(uow: UnitOfWork, claim_id: uuid.UUID) -> Claim:
    """Automatic adjudication against the claim's coverage: eligibility, benefit, deductible, co-pay, coverage
    percent, annual limit and pre-authorisation, line by line, with X12 reason codes."""
    claim = await CLAIMS.load(uow, claim_id, for_update=True)
    _check(Action.ADJUDICATED, claim)
    charges = [line.charge_amount for line in claim.lines]
    caps = [line.claimed_amount for line in claim.lines]
    if claim.coverage_id is None:
        outcomes = [LineOutcome(False, ZERO, ZERO, ZERO, ZERO, ("NO_COVERAGE",)) for _ in claim.lines]
    else:
        decision = await insurance.adjudicate_lines(
            uow, claim.coverage_id, claim.category, claim.service_date, charges, caps
        )
        outcomes = [
            LineOutcome(d.eligible, d.payer_amount, d.deductible_applied, d.copay_applied, d.limit_reduction, d.reasons)
            for d in decision.lines
        ]
    found = [domain.adjustments(charge, outcome) for charge, outcome in zip(charges, outcomes, strict=True)]
    deductible = money(sum((o.deductible_applied for o in outcomes if o.eligible), ZERO))
    return await _decide(
        uow, claim, Action.ADJUDICATED, [o.payer_amount for o in outcomes], found, deductible=deductible
    )


def _manual_lines(claim: Claim, total: Decimal) -> tuple[list[Decimal], list[tuple[Adjustment, ...]]]:
    """A decision by hand spread over the lines by their claimed amounts: what the clinic left to the patient is
    PR-2, what the payer declined of the claim CO-45."""
    approved = domain.allocate(total, [line.claimed_amount for line in claim.lines])
    found = []
    for line, amount in zip(claim.lines, approved, strict=True):
        parts = [
            Adjustment(domain.Group.PATIENT, domain.COINSURANCE, money(line.charge_amount - line.claimed_amount)),
            Adjustment(domain.Group.CONTRACTUAL, "45", money(line.claimed_amount - amount)),
        ]
        found.append(tuple(a for a in parts if a.amount > 0))
    return approved, found


async def approve(uow: UnitOfWork, claim_id: uuid.UUID, amount: Decimal) -> Claim:
    claim = await CLAIMS.load(uow, claim_id, for_update=True)
    _check(Action.APPROVED, claim)
    if amount > claim.claimed_amount:
        raise invalid_field("approved_amount", f"must not exceed the claimed {claim.claimed_amount:.2f}")
    approved, found = _manual_lines(claim, amount)
    return await _decide(uow, claim, Action.APPROVED, approved, found)


async def reject(uow: UnitOfWork, claim_id: uuid.UUID, reason_code: str, reason: str) -> Claim:
    claim = await CLAIMS.load(uow, claim_id, for_update=True)
    _check(Action.REJECTED, claim)
    found = [(Adjustment(domain.Group.CONTRACTUAL, reason_code, line.charge_amount),) for line in claim.lines]
    return await _decide(
        uow,
        claim,
        Action.REJECTED,
        [ZERO for _ in claim.lines],
        found,
        note=reason,
        rejection=(reason_code, reason),
    )


# --- disputes ---------------------------------------------------------------------------------------------


async def open_dispute(uow: UnitOfWork, data: DisputeCreate) -> Dispute:
    claim = await CLAIMS.load(uow, data.claim_id, for_update=True)
    if claim.status not in domain.DISPUTABLE:
        raise InvalidStatusTransition(f"A {claim.status} claim cannot be disputed; only rejected or partly approved.")
    if await uow.session.scalar(select(Dispute.id).where(Dispute.claim_id == claim.id, Dispute.status == "open")):
        raise DisputeExists()
    dispute = Dispute(
        claim_id=claim.id,
        reason=data.reason,
        status="open",
        opened_by=None if uow.actor is None else uow.actor.user_id,
        created_at=uow.now(),
    )
    try:
        async with uow.session.begin_nested():
            uow.session.add(dispute)
            await uow.session.flush()
    except IntegrityError as error:  # pragma: no cover - the claim's row lock serialises openers
        if any(violates(error, name) for name in ONE_OPEN_DISPUTE_PER_CLAIM):
            raise DisputeExists() from error
        raise
    audit.record(uow, "dispute.open", "dispute", dispute.id)
    return dispute


async def resolve_dispute(
    uow: UnitOfWork, dispute_id: uuid.UUID, data: DisputeResolve, expected_version: int | None
) -> Dispute:
    dispute = await DISPUTES.load(uow, dispute_id)
    claim = await CLAIMS.load(uow, dispute.claim_id, for_update=True)
    dispute = await DISPUTES.load_version(uow, dispute_id, expected_version)
    if dispute.status != "open":
        raise DisputeResolved()
    if data.outcome == "upheld" and data.approved_amount is not None:
        raise invalid_field("approved_amount", "only an overturned dispute changes the approved amount")
    if data.outcome == "overturned":
        _check(Action.DISPUTE_OVERTURNED, claim)
        amount = data.approved_amount if data.approved_amount is not None else claim.claimed_amount
        current = claim.approved_amount or ZERO
        if amount <= current or amount > claim.claimed_amount:
            raise invalid_field(
                "approved_amount",
                f"must be above the approved {current:.2f} and at most the claimed {claim.claimed_amount:.2f}",
            )
        approved, found = _manual_lines(claim, amount)
        await _decide(uow, claim, Action.DISPUTE_OVERTURNED, approved, found, note=data.note or dispute.reason)
        dispute.approved_amount = amount
    dispute.status = "resolved"
    dispute.outcome = data.outcome
    dispute.resolution_note = data.note
    dispute.resolved_by = None if uow.actor is None else uow.actor.user_id
    dispute.resolved_at = uow.now()
    await uow.session.flush()
    audit.record(uow, f"dispute.{data.outcome}", "dispute", dispute.id)
    return dispute


async def get_dispute(uow: UnitOfWork, dispute_id: uuid.UUID) -> Dispute:
    return await DISPUTES.get(uow, dispute_id)


async def list_disputes(uow: UnitOfWork, filters: DisputeFilters, page: PageParams) -> tuple[list[Dispute], str | None]:
    return await DISPUTES.list(uow, filters, page, record_each=False)
