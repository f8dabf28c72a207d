"""Pure insurance rules: which coverage applies on a date, how a service's amount splits between payer and
patient, age bands. No I/O; the service loads the facts and calls these."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from caremesh.platform.money import money
from caremesh.platform.timeutil import years_between

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


class Category(StrEnum):
    CONSULTATION = "consultation"
    LAB = "lab"
    PHARMACY = "pharmacy"
    PROCEDURE = "procedure"


# The same vocabulary as a plain-string type, for read models that show it inline rather than as `Category`.
CategoryName = Literal[tuple(c.value for c in Category)]  # type: ignore[valid-type]


class SchemeStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class CoverageStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class CommissionStatus(StrEnum):
    ACCRUED = "accrued"
    PAID = "paid"


class Reason(StrEnum):
    """Why a service is not (fully) paid by the payer; stable codes in `reasons`."""

    NO_COVERAGE = "NO_COVERAGE"
    COVERAGE_INACTIVE = "COVERAGE_INACTIVE"
    COVERAGE_NOT_STARTED = "COVERAGE_NOT_STARTED"
    COVERAGE_EXPIRED = "COVERAGE_EXPIRED"
    SCHEME_SUSPENDED = "SCHEME_SUSPENDED"
    NOT_COVERED = "NOT_COVERED"
    PREAUTH_REQUIRED = "PREAUTH_REQUIRED"
    ANNUAL_LIMIT_EXHAUSTED = "ANNUAL_LIMIT_EXHAUSTED"


# --- which coverage applies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageFacts:
    id: uuid.UUID
    status: str
    valid_from: date
    valid_to: date | None
    scheme_status: str


def coverage_problems(coverage: CoverageFacts, on: date) -> tuple[Reason, ...]:
    """Why `coverage` does not apply on `on`; empty when it does."""
    problems: list[Reason] = []
    if coverage.status != CoverageStatus.ACTIVE:
        problems.append(Reason.COVERAGE_INACTIVE)
    if on < coverage.valid_from:
        problems.append(Reason.COVERAGE_NOT_STARTED)
    if coverage.valid_to is not None and on > coverage.valid_to:
        problems.append(Reason.COVERAGE_EXPIRED)
    if coverage.scheme_status != SchemeStatus.ACTIVE:
        problems.append(Reason.SCHEME_SUSPENDED)
    return tuple(problems)


def pick_coverage(coverages: Sequence[CoverageFacts], on: date) -> tuple[CoverageFacts | None, tuple[Reason, ...]]:
    """The coverage that applies on `on` (the most recently started one when several do), or None with every
    reason why none does, in `Reason` order."""
    if not coverages:
        return None, (Reason.NO_COVERAGE,)
    applicable = [c for c in coverages if not coverage_problems(c, on)]
    if applicable:
        return max(applicable, key=lambda c: (c.valid_from, str(c.id))), ()
    found = {problem for c in coverages for problem in coverage_problems(c, on)}
    return None, tuple(r for r in Reason if r in found)


# --- how an amount splits -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BenefitTerms:
    coverage_percent: Decimal  # 0-100
    copay_amount: Decimal
    deductible: Decimal
    annual_limit: Decimal | None  # None: no limit
    requires_preauth: bool


@dataclass(frozen=True)
class DatedTerms:
    effective_from: date
    terms: BenefitTerms


def terms_on(history: Iterable[DatedTerms], on: date) -> DatedTerms | None:
    """The terms in force on `on`: the latest that took effect on or before it. A benefit's first terms also
    govern the dates before them (a benefit has terms on every date; only its changes are dated). None: no terms."""
    dated = sorted(history, key=lambda t: t.effective_from)
    if not dated:
        return None
    in_force = [t for t in dated if t.effective_from <= on]
    return in_force[-1] if in_force else dated[0]


@dataclass(frozen=True)
class Usage:
    """What the coverage has used of the benefit in the service's benefit year."""

    deductible_met: Decimal = ZERO
    limit_used: Decimal = ZERO


@dataclass(frozen=True)
class Split:
    eligible: bool
    payer_amount: Decimal
    patient_amount: Decimal
    deductible_applied: Decimal
    copay_applied: Decimal
    remaining_annual_limit: Decimal | None  # before this service; None: no limit (or no benefit)
    reasons: tuple[Reason, ...]


def not_eligible(amount: Decimal, reasons: Iterable[Reason], remaining: Decimal | None = None) -> Split:
    return Split(False, ZERO, money(amount), ZERO, ZERO, remaining, tuple(reasons))


def remaining_limit(terms: BenefitTerms, usage: Usage) -> Decimal | None:
    if terms.annual_limit is None:
        return None
    return max(ZERO, money(terms.annual_limit - usage.limit_used))


def split(amount: Decimal, terms: BenefitTerms | None, usage: Usage, *, preauthorised: bool) -> Split:
    """The payer's and the patient's shares of `amount`, HALF_UP to cents at each step:

    1. deductible_applied = min(amount, deductible - deductible met this benefit year)
    2. co-pay = min(copay_amount, amount - deductible_applied)
    3. payer = (amount - deductible_applied - co-pay) x coverage_percent / 100, capped by the limit's remainder
    4. patient = amount - payer
    No benefit, a missing pre-authorisation or an exhausted limit: not eligible, the patient pays it all.
    """
    amount = money(amount)
    if amount < 0:
        raise ValueError("amount must not be negative")
    if terms is None:
        return not_eligible(amount, (Reason.NOT_COVERED,))
    remaining = remaining_limit(terms, usage)
    if terms.requires_preauth and not preauthorised:
        return not_eligible(amount, (Reason.PREAUTH_REQUIRED,), remaining)
    if remaining is not None and remaining == 0:
        return not_eligible(amount, (Reason.ANNUAL_LIMIT_EXHAUSTED,), remaining)
    deductible_left = max(ZERO, money(terms.deductible - usage.deductible_met))
    deductible_applied = min(amount, deductible_left)
    left = money(amount - deductible_applied)
    copay = min(money(terms.copay_amount), left)
    left = money(left - copay)
    payer = money(left * terms.coverage_percent / HUNDRED)
    if remaining is not None:
        payer = min(payer, remaining)
    return Split(True, payer, money(amount - payer), deductible_applied, copay, remaining, ())


# --- accumulators ------------------------------------------------------------------------------------


def benefit_year(service_date: date) -> int:
    """The benefit year is the calendar year of the service date."""
    return service_date.year


# --- premium bands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgeBand:
    min_age: int
    max_age: int | None  # inclusive; None: no upper bound

    def covers(self, age: int) -> bool:
        return self.min_age <= age and (self.max_age is None or age <= self.max_age)


def overlaps(a: AgeBand, b: AgeBand) -> bool:
    return (b.max_age is None or a.min_age <= b.max_age) and (a.max_age is None or b.min_age <= a.max_age)


def age_on(date_of_birth: date, on: date) -> int:
    """Whole years; the birthday itself counts (born 2000-01-07 is 30 on 2030-01-07)."""
    return years_between(date_of_birth, on)


def band_for(bands: Iterable[AgeBand], age: int) -> AgeBand | None:
    return next((b for b in bands if b.covers(age)), None)


# --- premium periods and commissions --------------------------------------------------------------------


def period_start(period: str) -> date:
    """The first day of a `YYYY-MM` period (ValueError when it is not one)."""
    year, month = period.split("-")
    if len(year) != 4 or len(month) != 2:
        raise ValueError(f"not a YYYY-MM period: {period!r}")
    return date(int(year), int(month), 1)


def commission(premium_paid: Decimal, commission_percent: Decimal) -> Decimal:
    """The agent's share of a premium invoice paid in full: of what the member paid (a credit note lowers it),
    HALF_UP to the cent."""
    return money(money(premium_paid) * commission_percent / HUNDRED)
