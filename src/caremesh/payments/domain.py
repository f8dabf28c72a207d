"""Pure rules of payments: methods and statuses, the Idempotency-Key format, the request fingerprint,
refundable amounts and when an unfinished request counts as abandoned."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

# The largest amount NUMERIC(14,2) holds.
MAX_AMOUNT = Decimal("999999999999.99")
MAX_KEY_LENGTH = 255


class Method(StrEnum):
    CASH = "cash"
    CARD = "card"
    UPI = "upi"
    BANK_TRANSFER = "bank_transfer"


class PaymentStatus(StrEnum):
    PENDING = "pending"  # reserved on the invoice, waiting for the gateway; never shown by the API
    COMPLETED = "completed"
    FAILED = "failed"


class RefundStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"


def goes_through_gateway(method: Method) -> bool:
    """Cards are charged by the gateway; cash, UPI and bank transfers are recorded as received."""
    return method is Method.CARD


class KeyProblem(StrEnum):
    MISSING = "missing"
    INVALID = "invalid"


_KEY = re.compile(rf"^[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}$")


def idempotency_key_problem(raw: str | None) -> KeyProblem | None:
    """What is wrong with an `Idempotency-Key` header: absent or blank, or not 1-255 printable ASCII characters."""
    if raw is None or not raw.strip():
        return KeyProblem.MISSING
    return None if _KEY.match(raw) else KeyProblem.INVALID


def fingerprint(operation: str, request: Mapping[str, Any]) -> str:
    """SHA-256 of the operation and its parsed request in one canonical JSON form, so requests that
    mean the same (`"50"` and `"50.00"`, fields in any order) share a fingerprint and others do not."""
    canonical = json.dumps(
        {"operation": operation, "request": request}, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def refundable(amount: Decimal, refunded: Decimal) -> Decimal:
    """What of a payment may still be given back."""
    return max(amount - refunded, Decimal("0.00"))


class RefundRefusal(StrEnum):
    NOT_REFUNDABLE = "not_refundable"
    EXCEEDS_PAYMENT = "exceeds_payment"


def refund_refusal(
    status: PaymentStatus, amount: Decimal, refunded: Decimal, requested: Decimal
) -> RefundRefusal | None:
    """Why `requested` may not be refunded from this payment, or None when it may."""
    if status is not PaymentStatus.COMPLETED:
        return RefundRefusal.NOT_REFUNDABLE
    if requested > refundable(amount, refunded):
        return RefundRefusal.EXCEEDS_PAYMENT
    return None


def abandoned_after(wait_seconds: float, gateway_timeout_seconds: float) -> timedelta:
    """How old an unfinished attempt must be before another request with its key may take it over.

    Never sooner than the gateway timeout: a live attempt's gateway call has ended by then, so the
    takeover cannot race an answer still on its way.
    """
    return timedelta(seconds=max(wait_seconds, gateway_timeout_seconds))


def is_abandoned(claimed_at: datetime, now: datetime, after: timedelta) -> bool:
    return now - claimed_at >= after
