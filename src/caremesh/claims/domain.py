"""Pure claim rules: the state machine, splitting an invoice over claim lines, and turning an adjudication into
X12 claim adjustment reason codes (CARC) with their group codes. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from caremesh.platform.money import money

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


class ClaimStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"
    PAID = "paid"
    WITHDRAWN = "withdrawn"


class Action(StrEnum):
    CREATED = "created"
    SUBMITTED = "submitted"
    ADJUDICATED = "adjudicated"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISPUTE_OVERTURNED = "dispute_overturned"
    PAID = "paid"
    EDITED = "edited"
    WITHDRAWN = "withdrawn"


S = ClaimStatus
DECIDED = frozenset({S.APPROVED, S.PARTIALLY_APPROVED, S.REJECTED})
# Which action may move a claim from which status; where it lands is decided by the action's outcome.
ALLOWED_FROM: dict[Action, frozenset[ClaimStatus]] = {
    Action.SUBMITTED: frozenset({S.DRAFT}),
    Action.ADJUDICATED: frozenset({S.SUBMITTED}),
    Action.APPROVED: frozenset({S.SUBMITTED}),
    Action.REJECTED: frozenset({S.SUBMITTED}),
    Action.DISPUTE_OVERTURNED: frozenset({S.REJECTED, S.PARTIALLY_APPROVED}),
    Action.PAID: frozenset({S.APPROVED, S.PARTIALLY_APPROVED}),
    Action.EDITED: frozenset({S.DRAFT}),
    # A submitted claim is still the clinic's to take back until the payer decides it.
    Action.WITHDRAWN: frozenset({S.DRAFT, S.SUBMITTED}),
}
# Over without a payment: the invoice may be claimed again.
CLOSED_UNPAID = frozenset({S.REJECTED, S.WITHDRAWN})
# A claim in these statuses may be disputed.
DISPUTABLE = frozenset({S.REJECTED, S.PARTIALLY_APPROVED})
# Statuses that count for the duplicate rule: the payer has the claim.
WITH_PAYER = (S.SUBMITTED, S.APPROVED, S.PARTIALLY_APPROVED, S.PAID)


def may(action: Action, current: str) -> bool:
    return current in ALLOWED_FROM[action]


def decided_status(approved: Decimal, claimed: Decimal) -> ClaimStatus:
    if approved <= 0:
        return S.REJECTED
    return S.APPROVED if approved >= claimed else S.PARTIALLY_APPROVED


# --- submission rules -------------------------------------------------------------------------------------


def window_expired(service_date: date, today: date, window_days: int) -> bool:
    """Submitted more than `window_days` after the service date (the last day of the window still counts)."""
    return (today - service_date).days > window_days


def duplicate_since(now: datetime, window_hours: int) -> datetime:
    return now - timedelta(hours=window_hours)


# --- lines ------------------------------------------------------------------------------------------------


def allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `total` over `weights` in proportion, to the cent, by largest remainder: the parts add up to `total`
    exactly; ties go to the earlier line. All-zero weights split evenly."""
    if not weights:
        raise ValueError("nothing to allocate over")
    cents = int(money(total) / CENT)
    weights = [Decimal(w) for w in weights]
    whole = sum(weights, Decimal(0))
    if whole == 0:
        weights, whole = [Decimal(1)] * len(weights), Decimal(len(weights))
    exact = [Decimal(cents) * w / whole for w in weights]
    floors = [int(e) for e in exact]
    short = cents - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:short]:
        floors[i] += 1
    return [(Decimal(f) * CENT).quantize(CENT) for f in floors]


# --- editing a draft's lines ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceLineShare:
    """What the invoice gives claim line `position`: its quantity, its share of the invoice's total (the charge)
    and of the insurance share (the most that may be claimed for it)."""

    position: int
    quantity: int
    charge: Decimal
    claimable: Decimal


@dataclass(frozen=True)
class LineChange:
    position: int
    quantity: int | None = None  # default: the invoice line's
    claimed_amount: Decimal | None = None  # default: all that may be claimed for the quantity


@dataclass(frozen=True)
class EditedLine:
    position: int
    quantity: int
    charge_amount: Decimal
    claimed_amount: Decimal


class LineEditRefused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _pro_rata(amount: Decimal, quantity: int, of: int) -> Decimal:
    return amount if quantity == of else money(amount * quantity / of)


def edited_lines(shares: Sequence[InvoiceLineShare], changes: Sequence[LineChange]) -> list[EditedLine]:
    """The claim's lines after an edit: those named in `changes`, in invoice order; a line not named is dropped.
    Every line stays within its invoice line: a quantity at most the invoice's, the charge and the claimable
    amount pro rata to it, the claimed amount at most that (never above what the invoice gives the line). The
    claim must still ask for something."""
    by_position = {share.position: share for share in shares}
    seen: set[int] = set()
    edited: list[EditedLine] = []
    for n, change in enumerate(changes):
        share = by_position.get(change.position)
        if share is None:
            raise LineEditRefused(f"lines.{n}.position", f"the invoice has no line {change.position}")
        if change.position in seen:
            raise LineEditRefused(f"lines.{n}.position", f"line {change.position} is named twice")
        seen.add(change.position)
        quantity = share.quantity if change.quantity is None else change.quantity
        if quantity > share.quantity:
            raise LineEditRefused(f"lines.{n}.quantity", f"must not exceed the invoice's {share.quantity}")
        charge = _pro_rata(share.charge, quantity, share.quantity)
        cap = min(_pro_rata(share.claimable, quantity, share.quantity), charge)
        claimed = cap if change.claimed_amount is None else change.claimed_amount
        if claimed > cap:
            raise LineEditRefused(f"lines.{n}.claimed_amount", f"must not exceed {cap:.2f} for this line")
        edited.append(EditedLine(change.position, quantity, charge, claimed))
    if not edited or sum((line.claimed_amount for line in edited), ZERO) <= 0:
        raise LineEditRefused("lines", "the claim must ask the payer for something")
    return sorted(edited, key=lambda line: line.position)


# --- adjudication -> adjustments ---------------------------------------------------------------------------


class Group(StrEnum):
    PATIENT = "PR"  # patient responsibility
    CONTRACTUAL = "CO"  # the provider's, by contract
    OTHER = "OA"


@dataclass(frozen=True)
class Adjustment:
    group_code: str
    reason_code: str
    amount: Decimal


# insurance's reason codes -> (group, CARC) when a line is not eligible at all.
INELIGIBLE_CARC: dict[str, tuple[Group, str]] = {
    "NO_COVERAGE": (Group.CONTRACTUAL, "31"),  # patient cannot be identified as our insured
    "COVERAGE_INACTIVE": (Group.PATIENT, "27"),  # expenses incurred after coverage terminated
    "COVERAGE_EXPIRED": (Group.PATIENT, "27"),
    "COVERAGE_NOT_STARTED": (Group.PATIENT, "26"),  # expenses incurred prior to coverage
    "SCHEME_SUSPENDED": (Group.PATIENT, "177"),  # patient has not met the required eligibility requirements
    "NOT_COVERED": (Group.PATIENT, "204"),  # not covered under the patient's current benefit plan
    "PREAUTH_REQUIRED": (Group.CONTRACTUAL, "197"),  # precertification/authorization absent
    "ANNUAL_LIMIT_EXHAUSTED": (Group.PATIENT, "119"),  # benefit maximum for this time period reached
}
DEDUCTIBLE, COINSURANCE, COPAY, BENEFIT_MAXIMUM = "1", "2", "3", "119"
REASON_TEXT = {
    "1": "Deductible amount",
    "2": "Coinsurance amount",
    "3": "Co-payment amount",
    "26": "Expenses incurred prior to coverage",
    "27": "Expenses incurred after coverage terminated",
    "31": "Patient cannot be identified as our insured",
    "119": "Benefit maximum for this time period or occurrence has been reached",
    "177": "Patient has not met the required eligibility requirements",
    "197": "Precertification/authorization/notification/pre-treatment absent",
    "204": "This service is not covered under the patient's current benefit plan",
}


@dataclass(frozen=True)
class LineOutcome:
    """What insurance decided for one line (from its contract), in claim terms."""

    eligible: bool
    payer_amount: Decimal  # already capped by the line's claimed amount
    deductible_applied: Decimal
    copay_applied: Decimal
    limit_reduction: Decimal  # what the annual limit took off the payer's share
    reasons: tuple[str, ...]


def adjustments(charge: Decimal, outcome: LineOutcome) -> tuple[Adjustment, ...]:
    """Why the payer pays `outcome.payer_amount` of `charge`: adjustments that add up to charge - payer amount."""
    gap = money(charge - outcome.payer_amount)
    if gap <= 0:
        return ()
    if not outcome.eligible:
        group, code = INELIGIBLE_CARC.get(outcome.reasons[0] if outcome.reasons else "", (Group.OTHER, "96"))
        return (Adjustment(group, code, gap),)
    parts = [
        (DEDUCTIBLE, outcome.deductible_applied),
        (COPAY, outcome.copay_applied),
        (BENEFIT_MAXIMUM, min(outcome.limit_reduction, gap)),
    ]
    found = [Adjustment(Group.PATIENT, code, money(amount)) for code, amount in parts if amount > 0]
    # The rest is the share the coverage percent (and the clinic's own split) leaves to the patient.
    rest = money(gap - sum((a.amount for a in found), ZERO))
    if rest > 0:
        found.append(Adjustment(Group.PATIENT, COINSURANCE, rest))
    return tuple(sorted(found, key=lambda a: _ORDER.index(a.reason_code)))


_ORDER = [DEDUCTIBLE, COINSURANCE, COPAY, BENEFIT_MAXIMUM]


def reason_codes(found: Sequence[Adjustment]) -> list[str]:
    return list(dict.fromkeys(a.reason_code for a in found))


def rejection_reason(lines: Sequence[Sequence[Adjustment]]) -> tuple[str, str] | None:
    """The first adjustment's CARC and text: why a claim that pays nothing was rejected."""
    for found in lines:
        for adjustment in found:
            return adjustment.reason_code, REASON_TEXT.get(adjustment.reason_code, "Claim adjusted")
    return None
