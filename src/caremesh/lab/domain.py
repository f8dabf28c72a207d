"""Pure lab rules: LOINC codes, lab order states (the booking window and free days are capacity's rules)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from caremesh.platform.capacity import rules
from caremesh.platform.capacity.rules import Refusal

# A LOINC code: its number (no leading zero; up to 7 digits leaves room for growth), a dash, a mod-10 check digit.
_LOINC = re.compile(r"^([1-9][0-9]{0,6})-([0-9])$")


class LabOrderStatus(StrEnum):
    SCHEDULED = rules.SCHEDULED
    RESULTED = "resulted"
    CANCELLED = rules.CANCELLED


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


NOT_RESULTABLE = {
    Refusal.ALREADY_DONE: "The lab order already has results.",
    Refusal.CANCELLED: "The lab order is cancelled.",
    Refusal.NOT_CONFIRMED: "The order is not confirmed yet.",
}


def not_resultable_reason(status: LabOrderStatus, *, order_confirmed: bool) -> str | None:
    """Why a lab order may not be resulted now, or None when it may."""
    why = rules.refusal(status, done=LabOrderStatus.RESULTED, order_confirmed=order_confirmed)
    return None if why is None else NOT_RESULTABLE[why]


def fully_resulted(statuses: Iterable[LabOrderStatus]) -> bool:
    """True when every lab order of an order still standing (not cancelled) is resulted, and one is."""
    return rules.all_done(statuses, done=LabOrderStatus.RESULTED)
