"""Claims: created from an invoice, submitted, adjudicated against the patient's coverage (insurance's contract),
disputed, and paid by payers' remittances posted once to the claim and to the invoice (billing's contract).

Locks, always in this order: the claim row, then insurance's coverage row (adjudication), then billing's invoice row
(remittances). Every transition of a claim is appended to its history in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from caremesh.audit import contract as audit
from caremesh.billing import contract as billing
from caremesh.claims import domain, x12
from caremesh.claims.domain import Action, Adjustment, ClaimStatus, LineOutcome
from caremesh.claims.events import ClaimAdjudicated, ClaimPaid, ClaimSubmitted
from caremesh.claims.models import (
    ONE_OPEN_CLAIM_PER_INVOICE,
    ONE_OPEN_DISPUTE_PER_CLAIM,
    ONE_REMITTANCE,
    Claim,
    ClaimHistory,
    ClaimLine,
    Dispute,
    Remittance,
    RemittanceItem,
)
from caremesh.claims.schemas import ClaimCreate, DisputeCreate, DisputeResolve, RemittanceIn
from caremesh.insurance import contract as insurance
from caremesh.patients import contract as patients
from caremesh.platform.db import one_or_raise, violates, where_given
from caremesh.platform.errors import Conflict, DomainError, NotFound, Unprocessable, check_version, invalid_field
from caremesh.platform.money import money
from caremesh.platform.numbering import next_number
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

NUMBER_PREFIX = "CLM"
ZERO = domain.ZERO

# What insurance calls each kind of invoice.
CATEGORY_OF_KIND = {"consultation": "consultation", "lab": "lab", "medication": "pharmacy", "procedure": "procedure"}


# --- errors -----------------------------------------------------------------------------------------------


class ClaimNotFound(NotFound):
    code, title = "CLAIM_NOT_FOUND", "Claim not found"


class NotClaimable(Conflict):
    code, title = "NOT_CLAIMABLE", "The invoice has no insurance share to claim"


class ClaimExists(Conflict):
    code, title = "CLAIM_EXISTS", "The invoice already has an open claim"


class ClaimWindowExpired(Unprocessable):
    code, title = "CLAIM_WINDOW_EXPIRED", "The service date is outside the claim submission window"


class DuplicateClaim(Conflict):
    code, title = "DUPLICATE_CLAIM", "A claim for the same member, provider, amount and service date was just submitted"


class InvalidStatusTransition(Conflict):
    code, title = "INVALID_STATUS_TRANSITION", "The claim's status does not allow this"


class DisputeNotFound(NotFound):
    code, title = "DISPUTE_NOT_FOUND", "Dispute not found"


class DisputeExists(Conflict):
    code, title = "DISPUTE_EXISTS", "The claim already has an open dispute"


class DisputeResolved(Conflict):
    code, title = "DISPUTE_RESOLVED", "The dispute is already resolved"


class RemittanceConflict(Conflict):
    code, title = "REMITTANCE_CONFLICT", "This remittance id was already processed with different items"


class InvalidX12(Unprocessable):
    code, title = "INVALID_X12", "The body is not a readable X12 835 remittance"


# --- reading ----------------------------------------------------------------------------------------------


async def _load(uow: UnitOfWork, claim_id: uuid.UUID, *, for_update: bool = False) -> Claim:
    query = select(Claim).where(Claim.id == claim_id)
    claim: Claim = await one_or_raise(uow.session, query, ClaimNotFound, for_update=for_update)
    return claim


async def get_claim(uow: UnitOfWork, claim_id: uuid.UUID) -> Claim:
    claim = await _load(uow, claim_id)
    audit.record(uow, "claim.read", "claim", claim.id)
    return claim


async def list_claims(
    uow: UnitOfWork,
    *,
    status: ClaimStatus | None,
    patient_id: uuid.UUID | None,
    invoice_id: uuid.UUID | None,
    payer_id: uuid.UUID | None,
    page: PageParams,
) -> tuple[list[Claim], str | None]:
    query = where_given(
        select(Claim),
        (Claim.status, status),
        (Claim.patient_id, patient_id),
        (Claim.invoice_id, invoice_id),
        (Claim.payer_id, payer_id),
    )
    rows, cursor = await paginate(uow.session, query, order_by=[Claim.created_at, Claim.id], params=page)
    audit.record(uow, "claim.list", "claim", None)
    return rows, cursor


async def history(uow: UnitOfWork, claim_id: uuid.UUID, page: PageParams) -> tuple[list[ClaimHistory], str | None]:
    """The claim's transitions, oldest first (one page)."""
    await _load(uow, claim_id)
    query = select(ClaimHistory).where(ClaimHistory.claim_id == claim_id)
    rows, cursor = await paginate(uow.session, query, order_by=[ClaimHistory.sequence, ClaimHistory.id], params=page)
    audit.record(uow, "claim.history_read", "claim", claim_id)
    return rows, cursor


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


def _ids(claim: Claim) -> dict[str, Any]:
    """The fields every claim event starts with."""
    return {
        "claim_id": claim.id,
        "number": claim.number,
        "invoice_id": claim.invoice_id,
        "patient_id": claim.patient_id,
    }


def _cents(amount: Decimal) -> Decimal:
    """Two decimals, as the events carry money."""
    return Decimal(f"{amount:.2f}")


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
    category = CATEGORY_OF_KIND[invoice.kind]
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
        diagnosis_codes=data.diagnosis_codes or [uow.settings.claims.claim_default_diagnosis_code],
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
        select(Claim).where(Claim.invoice_id == invoice_id, Claim.status != ClaimStatus.REJECTED)
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


async def submit(uow: UnitOfWork, claim_id: uuid.UUID) -> Claim:
    claim = await _load(uow, claim_id, for_update=True)
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
    await _serialise_member(uow, claim.member_id)
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
    previous = claim.status
    claim.status = ClaimStatus.SUBMITTED
    claim.submitted_at = now
    claim.updated_at = now
    await uow.session.flush()
    await _record(uow, claim, previous, Action.SUBMITTED)
    uow.publish(
        ClaimSubmitted(
            **_ids(claim),
            payer_id=claim.payer_id,
            claimed_amount=_cents(claim.claimed_amount),
            currency=claim.currency,
            submitted_at=now,
        )
    )
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
        ClaimAdjudicated(
            **_ids(claim),
            status=claim.status,
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
    claim = await _load(uow, claim_id, for_update=True)
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
    claim = await _load(uow, claim_id, for_update=True)
    _check(Action.APPROVED, claim)
    if amount > claim.claimed_amount:
        raise invalid_field("approved_amount", f"must not exceed the claimed {claim.claimed_amount:.2f}")
    approved, found = _manual_lines(claim, amount)
    return await _decide(uow, claim, Action.APPROVED, approved, found)


async def reject(uow: UnitOfWork, claim_id: uuid.UUID, reason_code: str, reason: str) -> Claim:
    claim = await _load(uow, claim_id, for_update=True)
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


async def _load_dispute(uow: UnitOfWork, dispute_id: uuid.UUID, *, for_update: bool = False) -> Dispute:
    query = select(Dispute).where(Dispute.id == dispute_id)
    dispute: Dispute = await one_or_raise(uow.session, query, DisputeNotFound, for_update=for_update)
    return dispute


async def open_dispute(uow: UnitOfWork, data: DisputeCreate) -> Dispute:
    claim = await _load(uow, data.claim_id, for_update=True)
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
    dispute = await _load_dispute(uow, dispute_id)
    claim = await _load(uow, dispute.claim_id, for_update=True)
    dispute = await _load_dispute(uow, dispute_id, for_update=True)
    check_version(dispute.version, expected_version)
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
    dispute = await _load_dispute(uow, dispute_id)
    audit.record(uow, "dispute.read", "dispute", dispute.id)
    return dispute


async def list_disputes(
    uow: UnitOfWork, *, claim_id: uuid.UUID | None, status: str | None, page: PageParams
) -> tuple[list[Dispute], str | None]:
    query = where_given(select(Dispute), (Dispute.claim_id, claim_id), (Dispute.status, status))
    rows, cursor = await paginate(uow.session, query, order_by=[Dispute.created_at, Dispute.id], params=page)
    audit.record(uow, "dispute.list", "dispute", None)
    return rows, cursor


# --- X12 837P ---------------------------------------------------------------------------------------------

# HCPCS/CPT for lines whose code is not one already: an established-patient office visit, unlisted chemistry,
# unclassified drugs, unlisted special service.
DEFAULT_PROCEDURE = {"consultation": "99213", "lab": "84999", "pharmacy": "J3490", "procedure": "99199"}


def _procedure_code(code: str, category: str) -> str:
    is_hcpcs = len(code) == 5 and (code.isdigit() or (code[0].isalpha() and code[1:].isdigit()))
    return code.upper() if is_hcpcs else DEFAULT_PROCEDURE[category]


def control_number(claim_number: str) -> int:
    """ISA13 from the claim's number (CLM-2026-000042 -> 260000042): unique per claim, the same on every download."""
    _, year, serial = claim_number.split("-")
    return int(year[-2:]) * 10_000_000 + int(serial) % 10_000_000


async def x12_837p(uow: UnitOfWork, claim_id: uuid.UUID) -> str:
    claim = await _load(uow, claim_id)
    session = uow.session
    patient = await patients.find_patient(session, claim.patient_id)
    payer = await insurance.find_payer(session, claim.payer_id)
    if patient is None or payer is None:
        raise NotClaimable("The claim's patient or payer no longer exists.")
    address = None
    if patient.address:
        a = patient.address
        address = x12.Address(a["line1"], a.get("line2"), a["city"], a["state"], a["postal_code"], a["country"])
    subscriber = x12.Subscriber(
        member_id=claim.member_id,
        first_name=patient.first_name,
        last_name=patient.last_name,
        date_of_birth=patient.date_of_birth,
        gender=patient.gender,
        address=address,
    )
    document = x12.Claim837(
        claim_number=claim.number,
        total_charge=claim.total_charge,
        diagnosis_codes=tuple(claim.diagnosis_codes),
        lines=tuple(
            x12.ServiceLine(
                procedure_code=_procedure_code(line.code, claim.category),
                description=line.description,
                charge=line.charge_amount,
                units=line.quantity,
                service_date=claim.service_date,
            )
            for line in claim.lines
        ),
    )
    try:
        rendered = x12.render_837p(
            document,
            subscriber,
            x12.Payer(name=payer.name, payer_id=payer.code),
            uow.settings.clinic,
            control_number=control_number(claim.number),
            created_at=uow.now(),
        )
    except ValueError as error:
        raise NotClaimable(f"The claim cannot be written as an 837P: {error}") from error
    audit.record(uow, "claim.x12_837p", "claim", claim.id)
    return rendered


# --- remittances ------------------------------------------------------------------------------------------


def remittance_from_835(body: str) -> RemittanceIn:
    try:
        parsed = x12.parse_835(body)
    except x12.X12Error as error:
        raise InvalidX12(str(error)) from error
    try:
        return RemittanceIn(
            remittance_id=parsed.remittance_id,
            payer_code=parsed.payer_code,
            items=[
                {
                    "claim_number": item.claim_number,
                    "paid_amount": item.paid_amount,
                    "adjustment_codes": list(item.adjustment_codes),
                }
                for item in parsed.items
            ],
        )
    except ValueError as error:
        raise InvalidX12(f"The 835 does not make a valid remittance: {error}") from error


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
    claim = await uow.session.scalar(
        select(Claim)
        .where(Claim.number == item.claim_number)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
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
        ClaimPaid(**_ids(claim), paid_amount=_cents(item.paid_amount), remittance_id=data.remittance_id, paid_at=now)
    )
    return claim.id, None


# --- reconciliation report --------------------------------------------------------------------------------


@dataclass
class PayerTotal:
    payer_code: str
    remittances: int = 0
    posted_amount: Decimal = ZERO
    unmatched_amount: Decimal = ZERO


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
    outstanding_count: int
    outstanding_amount: Decimal


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
        outstanding_count=len(outstanding),
        outstanding_amount=money(sum((a or ZERO for a in outstanding), ZERO)),
    )
