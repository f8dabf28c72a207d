"""Pure rules of pharmacy: reservation states, what may be dispensed, when an order is fully dispensed.

reserved ──► dispensed          (the order is confirmed; stock and reserved both fall)
   └──────► released            (the order failed or was cancelled, or a later item of it could not be reserved)
failed                          (the item that could not be reserved; it never held stock)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import StrEnum


class ReservationStatus(StrEnum):
    RESERVED = "reserved"
    RELEASED = "released"
    DISPENSED = "dispensed"
    FAILED = "failed"


class FailureReason(StrEnum):
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    MEDICATION_NOT_FOUND = "MEDICATION_NOT_FOUND"


# What a reservation may still become: released ones and failed ones are over.
STANDING = frozenset({ReservationStatus.RESERVED, ReservationStatus.DISPENSED})


def available(stock_quantity: int, reserved_quantity: int) -> int:
    """What new reservations may still take."""
    return stock_quantity - reserved_quantity


def lock_order(medication_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """The medications an order touches, each once, in the one order every transaction locks them in
    (so two orders naming the same medications in different orders cannot deadlock)."""
    return sorted(set(medication_ids))


def dispense_refusal(status: ReservationStatus, *, order_confirmed: bool) -> str | None:
    """Why a reservation cannot be dispensed now, or None when it can."""
    if status is ReservationStatus.DISPENSED:
        return "The reservation was already dispensed."
    if status is ReservationStatus.RELEASED:
        return "The reservation was released: its order failed or was cancelled."
    if status is ReservationStatus.FAILED:
        return "The reservation failed: it never held stock."
    if not order_confirmed:
        return "The order is not confirmed yet: it is dispensed once billing has invoiced it."
    return None


def fully_dispensed(statuses: Iterable[ReservationStatus]) -> bool:
    """Every reservation of the order still standing is dispensed (and there is at least one)."""
    standing = [s for s in statuses if s in STANDING]
    return bool(standing) and all(s is ReservationStatus.DISPENSED for s in standing)
