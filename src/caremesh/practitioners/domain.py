"""Pure rules of practitioners: the NPI check digit and the shape of weekly working hours."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from itertools import pairwise

NPI_PREFIX = "80840"  # ISO 7812 issuer prefix for US health applications; the check digit covers it
WEEKDAYS = range(7)  # Monday=0


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of ASCII digits, its last digit being the check digit."""
    if not digits or not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def is_valid_npi(npi: str) -> bool:
    """Ten digits whose Luhn check over `80840` + npi holds."""
    return len(npi) == 10 and npi.isascii() and npi.isdigit() and luhn_valid(NPI_PREFIX + npi)


@dataclass(frozen=True, order=True)
class WorkingWindow:
    """One clinic-local working window on a weekday (Monday=0), `start` inclusive, `end` exclusive."""

    weekday: int
    start: time
    end: time


DEFAULT_WORKING_HOURS: tuple[WorkingWindow, ...] = tuple(WorkingWindow(day, time(8), time(18)) for day in range(5))


def working_hours_problem(windows: Iterable[WorkingWindow]) -> str | None:
    """Why a set of working windows is not acceptable, or None when it is."""
    ordered = sorted(windows)
    for window in ordered:
        if window.weekday not in WEEKDAYS:
            return f"weekday must be 0 (Monday) to 6 (Sunday), not {window.weekday}"
        if window.start >= window.end:
            return f"weekday {window.weekday}: start {window.start:%H:%M} must be before end {window.end:%H:%M}"
    for earlier, later in pairwise(ordered):
        if earlier.weekday == later.weekday and later.start < earlier.end:
            return (
                f"weekday {earlier.weekday}: {earlier.start:%H:%M}-{earlier.end:%H:%M} overlaps "
                f"{later.start:%H:%M}-{later.end:%H:%M}"
            )
    return None
