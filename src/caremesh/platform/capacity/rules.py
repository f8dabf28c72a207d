"""Pure rules of capacity booking: the booking window, the days with a free slot, a booking's states."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from enum import StrEnum

BOOKING_WINDOW_DAYS = 14
# A booking's states besides the participant's own finished one (`resulted`, `reported`).
SCHEDULED = "scheduled"
CANCELLED = "cancelled"


class Refusal(StrEnum):
    """Why a booking may not be finished (resulted, reported) now."""

    ALREADY_DONE = "already_done"
    CANCELLED = "cancelled"
    NOT_CONFIRMED = "not_confirmed"


def booking_window(today: date, days: int = BOOKING_WINDOW_DAYS) -> list[date]:
    """The days an entry may be booked on: today and the next `days - 1`, in order."""
    return [today + timedelta(days=n) for n in range(days)]


def free_days(window: Iterable[date], booked: Mapping[date, int], capacity: int) -> list[date]:
    """The days of `window` (in its order) with a free slot: fewer than `capacity` booked. A day booked beyond
    a capacity lowered since has none."""
    return [day for day in window if booked.get(day, 0) < capacity]


def refusal(status: str, *, done: str, order_confirmed: bool) -> Refusal | None:
    """Why a booking in `status` may not be finished (become `done`) now, or None when it may."""
    if status == done:
        return Refusal.ALREADY_DONE
    if status == CANCELLED:
        return Refusal.CANCELLED
    if not order_confirmed:
        return Refusal.NOT_CONFIRMED
    return None


def all_done(statuses: Iterable[str], *, done: str) -> bool:
    """True when every booking of an order still standing (not cancelled) is `done`, and one is."""
    standing = [s for s in statuses if s != CANCELLED]
    return bool(standing) and all(s == done for s in standing)
