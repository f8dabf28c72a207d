"""Pure rules of billing: tariff pricing, the invoice amounts in API.md's order, payment status, aging.

Every amount is a Decimal rounded HALF_UP to two decimals at each step the contract names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise

from caremesh.platform.money import money

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
MAX_DISCOUNT_PERCENT = 10  # 1 % per prior visit, capped


class Kind(StrEnum):
    CONSULTATION = "consultation"
    LAB = "lab"
    MEDICATION = "medication"
    PROCEDURE = "procedure"
    MANUAL = "manual"  # lines entered at the billing desk (tariff codes or free text), no visit or order
    PREMIUM = "premium"  # an insurance premium the member owes the insurer (insurance's premium.billed)


class TariffKind(StrEnum):
    """What a tariff can price: the kinds of charge that come from a catalogue (manual lines and premiums do not)."""

    CONSULTATION = Kind.CONSULTATION.value
    LAB = Kind.LAB.value
    MEDICATION = Kind.MEDICATION.value
    PROCEDURE = Kind.PROCEDURE.value


class InvoiceStatus(StrEnum):
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"


# --- tariff pricing -----------------------------------------------------------


@dataclass(frozen=True)
class Flat:
    amount: Decimal


@dataclass(frozen=True)
class Band:
    """Whole years of experience from `min_years` to `max_years` inclusive; `max_years` None is open-ended."""

    min_years: int
    max_years: int | None
    amount: Decimal

    def covers(self, years: int) -> bool:
        return self.min_years <= years and (self.max_years is None or years <= self.max_years)


@dataclass(frozen=True)
class ExperienceBands:
    bands: tuple[Band, ...]


@dataclass(frozen=True)
class Hourly:
    rate: Decimal
    round_up_after_minutes: int


Pricing = Flat | ExperienceBands | Hourly


def bands_problem(bands: Sequence[Band]) -> str | None:
    """Why bands are not acceptable, or None: in order, contiguous from 0 years, no overlap, the last open-ended."""
    if not bands:
        return "give at least one band"
    if bands[0].min_years != 0:
        return "the first band must start at 0 years"
    for band in bands:
        if band.max_years is not None and band.max_years < band.min_years:
            return f"the band from {band.min_years} years ends before it starts"
    for earlier, later in pairwise(bands):
        if earlier.max_years is None:
            return "only the last band may be open-ended (max_years null)"
        if later.min_years != earlier.max_years + 1:
            return (
                f"bands must follow each other without gap or overlap: after {earlier.max_years} years "
                f"the next band starts at {earlier.max_years + 1}, not {later.min_years}"
            )
    if bands[-1].max_years is not None:
        return "the last band must be open-ended (max_years null)"
    return None


def billed_hours(started_at: datetime, ended_at: datetime, round_up_after_minutes: int) -> int:
    """Whole hours of the visit, plus one when the remainder is more than `round_up_after_minutes`
    minutes (5 h 10 m -> 5, 5 h 11 m -> 6 with 10), and at least one."""
    duration = max(ended_at - started_at, timedelta(0))
    hours, remainder = divmod(duration, timedelta(hours=1))
    if remainder > timedelta(minutes=round_up_after_minutes):
        hours += 1
    return max(hours, 1)


@dataclass(frozen=True)
class Charge:
    """What a tariff charges for one visit: `quantity` (hours, or 1) × `unit_price`."""

    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return money(self.unit_price * self.quantity)


class NoBandForExperience(ValueError):
    pass


def charge(pricing: Pricing, *, experience_years: int, started_at: datetime, ended_at: datetime) -> Charge:
    """The tariff's charge for a visit by a practitioner of `experience_years`, lasting `started_at`–`ended_at`."""
    match pricing:
        case Flat(amount=amount):
            return Charge(1, money(amount))
        case ExperienceBands(bands=bands):
            for band in bands:
                if band.covers(experience_years):
                    return Charge(1, money(band.amount))
            raise NoBandForExperience(f"no band covers {experience_years} years of experience")
        case Hourly(rate=rate, round_up_after_minutes=minutes):
            return Charge(billed_hours(started_at, ended_at, minutes), money(rate))
    raise TypeError(f"unknown pricing {pricing!r}")


# --- invoice amounts ---------------------------------------------------------------


def discount_percent(prior_visits: int) -> int:
    """1 % per prior completed visit, at most 10 %."""
    return min(max(prior_visits, 0), MAX_DISCOUNT_PERCENT)


@dataclass(frozen=True)
class Amounts:
    subtotal: Decimal
    discount_percent: int
    discount_amount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal
    total: Decimal
    coverage_percent: Decimal
    insurance_amount: Decimal
    patient_amount: Decimal


def invoice_amounts(subtotal: Decimal, *, prior_visits: int, tax_rate: Decimal, coverage_percent: Decimal) -> Amounts:
    """API.md's amounts, in its order, each rounded HALF_UP to two decimals.

    `tax_rate` is a fraction (0.12); `coverage_percent` a percentage (90).
    """
    return amounts_at(subtotal, discount_percent(prior_visits), tax_rate=tax_rate, coverage_percent=coverage_percent)


def amounts_at(subtotal: Decimal, percent: int, *, tax_rate: Decimal, coverage_percent: Decimal) -> Amounts:
    """The amounts of a subtotal at a discount percent already known (an invoice re-priced as its lines change)."""
    if subtotal < 0 or tax_rate < 0 or not 0 <= coverage_percent <= HUNDRED or not 0 <= percent <= HUNDRED:
        raise ValueError("subtotal and tax rate must not be negative; coverage and discount lie in 0-100 %")
    subtotal = money(subtotal)
    discount = money(subtotal * percent / HUNDRED)
    tax = money((subtotal - discount) * tax_rate)
    total = money(subtotal - discount + tax)
    insurance = money(total * coverage_percent / HUNDRED)
    return Amounts(
        subtotal=subtotal,
        discount_percent=percent,
        discount_amount=discount,
        tax_rate=tax_rate,
        tax_amount=tax,
        total=total,
        coverage_percent=coverage_percent,
        insurance_amount=insurance,
        patient_amount=total - insurance,
    )


# --- payments ------------------------------------------------------------------------


def payment_status(amount_paid: Decimal, patient_amount: Decimal, credited: Decimal = ZERO) -> InvoiceStatus:
    """issued (nothing paid) -> partially_paid -> paid (the patient's share is covered by payments and credit notes,
    also when it is 0). Credit alone never makes an invoice partially paid: nothing was paid."""
    if amount_paid + credited >= patient_amount:
        return InvoiceStatus.PAID
    if amount_paid > 0:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.ISSUED


def balance_due(patient_amount: Decimal, credited: Decimal, amount_paid: Decimal) -> Decimal:
    """What the patient still owes: their share less credit notes and payments (net of refunds)."""
    return patient_amount - credited - amount_paid


def creditable(patient_amount: Decimal, credited: Decimal, amount_paid: Decimal, amount_pending: Decimal) -> Decimal:
    """What a credit note may still take: the balance less what payments in flight hold (a paid invoice is refunded
    first, which reopens its balance)."""
    return balance_due(patient_amount, credited, amount_paid) - amount_pending


# --- accounts receivable -------------------------------------------------------------

BUCKETS = ("0-30", "31-60", "61-90", "90+")


def aging_bucket(issued_on: date, as_of: date) -> str:
    """The bucket of a balance by whole days from the issue date to `as_of`."""
    days = (as_of - issued_on).days
    if days <= 30:
        return "0-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "90+"


@dataclass
class Aging:
    """Open balances summed per bucket."""

    buckets: dict[str, Decimal]

    @classmethod
    def empty(cls) -> Aging:
        return cls({bucket: ZERO for bucket in BUCKETS})

    def add(self, bucket: str, amount: Decimal) -> None:
        self.buckets[bucket] += amount

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)


def age(balances: Iterable[tuple[str, date, Decimal]], as_of: date) -> dict[str, Aging]:
    """Sum (key, issue date, open balance) into an aging per key; zero balances are left out."""
    result: dict[str, Aging] = {}
    for key, issued_on, amount in balances:
        if amount > 0:
            result.setdefault(key, Aging.empty()).add(aging_bucket(issued_on, as_of), amount)
    return result
