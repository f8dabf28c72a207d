"""Pure lab rules: LOINC codes, the booking window, lab order states."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from enum import StrEnum

BOOKING_WINDOW_DAYS = 14
# A LOINC code: its number (no leading zero; up to 7 digits leaves room for growth), a dash, a mod-10 check digit.
_LOINC = re.compile(r"^([1-9][0-9]{0,6})-([0-9])$")


class LabOrderStatus(StrEnum):
    SCHEDULED = "scheduled"
    RESULTED = "resulted"
    CANCELLED = "cancelled"


class SchedulingFailure(StrEnum):
    NO_LAB_CAPACITY = "NO_LAB_CAPACITY"
    LAB_TEST_NOT_FOUND = "LAB_TEST_NOT_FOUND"


def mod10_check_digit(number: str) -> int:
    """LOINC's check digit (the Luhn scheme): double every other digit from the rightmost, add the digits."""
    total = 0
    for n, char in enumerate(reversed(number)):
        digit = int(char)
        if n % 2 == 0:
            digit *= 2
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10


def is_valid_loinc(code: str) -> bool:
    """`2345-7`: digits, a dash, and the check digit of those digits."""
    match = _LOINC.match(code)
    return match is not None and mod10_check_digit(match[1]) == int(match[2])


def booking_window(today: date, days: int = BOOKING_WINDOW_DAYS) -> list[date]:
    """The days a test may be booked on: today and the next `days - 1`, in order."""
    return [today + timedelta(days=n) for n in range(days)]


def free_days(window: Iterable[date], booked: Mapping[date, int], capacity: int) -> list[date]:
    """The days of `window` (in its order) with a free slot: fewer than `capacity` booked. A day booked beyond
    a capacity lowered since has none."""
    return [day for day in window if booked.get(day, 0) < capacity]


def not_resultable_reason(status: LabOrderStatus, *, order_confirmed: bool) -> str | None:
    """Why a lab order may not be resulted now, or None when it may."""
    if status is LabOrderStatus.RESULTED:
        return "The lab order already has results."
    if status is LabOrderStatus.CANCELLED:
        return "The lab order is cancelled."
    if not order_confirmed:
        return "The order is not confirmed yet."
    return None


def fully_resulted(statuses: Iterable[LabOrderStatus]) -> bool:
    """True when every lab order of an order still standing (not cancelled) is resulted, and one is."""
    standing = [s for s in statuses if s is not LabOrderStatus.CANCELLED]
    return bool(standing) and all(s is LabOrderStatus.RESULTED for s in standing)
