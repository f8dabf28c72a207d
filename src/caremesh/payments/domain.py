"""Pure rules of payments: methods and statuses, refundable amounts, when an unfinished request counts as abandoned,
what may be stored as a payment method (never a card number) and a settlement day's net. The Idempotency-Key
format and the request fingerprint are the platform's (`platform.idempotency`)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

# The largest amount NUMERIC(14,2) holds.
MAX_AMOUNT = Decimal("999999999999.99")


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


# --- stored payment methods -----------------------------------------------------------------------------------------


class MethodType(StrEnum):
    """What a stored payment method is: a card (its gateway token) or a UPI handle."""

    CARD = "card"
    UPI = "upi"


# A run of digits that may be split by spaces or dashes ("4242 4242-4242  4242"), not part of a longer number.
_DIGIT_RUN = re.compile(r"\d(?:[ -]*\d)*")
# A UPI virtual payment address: a handle, "@", the provider (NPCI's form, e.g. "asha.k@okicici", "98765@ybl").
VPA_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,189}@[A-Za-z][A-Za-z0-9]{1,63}$"
_VPA = re.compile(VPA_PATTERN)


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """Whether `text` holds what looks like a card number: a run of 13 to 19 digits, possibly split by spaces or
    dashes, that passes the Luhn check. Such a value is refused wherever only a gateway's token belongs."""
    for run in _DIGIT_RUN.findall(text):
        digits = run.replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False


def is_vpa(handle: str) -> bool:
    return _VPA.match(handle) is not None


def method_serves(method_type: MethodType, payment_method: Method) -> bool:
    """A stored card pays card payments, a stored UPI handle UPI payments."""
    return method_type.value == payment_method.value


# --- daily settlement -----------------------------------------------------------------------------------------------


class SettlementStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def net_of_day(payments: Decimal, refunds: Decimal, remittances: Decimal) -> Decimal:
    """What the day brought in: patients' completed payments, less the refunds given back, plus the insurers'
    remittances posted that day."""
    return payments - refunds + remittances
