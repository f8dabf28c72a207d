"""What other contexts may use of billing: the invoice as payments see it, and the event names.

Payments move money against an invoice only through `reserve_payment`, `settle_payment` and
`record_refund`. Each locks the invoice row, so payments of one invoice are serialised, and the
table's CHECK constraints keep `0 <= amount_paid` and `amount_paid + amount_pending <= patient_amount`
whatever the code does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.billing.events import INVOICE_ISSUED, INVOICE_PAID, INVOICE_VOIDED
from caremesh.platform.uow import UnitOfWork

__all__ = [
    "INVOICE_ISSUED",
    "INVOICE_PAID",
    "INVOICE_VOIDED",
    "InvoiceSummary",
    "find_invoice",
    "record_refund",
    "reserve_payment",
    "settle_payment",
]


@dataclass(frozen=True)
class InvoiceSummary:
    id: uuid.UUID
    number: str
    patient_id: uuid.UUID
    status: str  # issued | partially_paid | paid | void
    currency: str
    total: Decimal
    patient_amount: Decimal
    insurance_amount: Decimal
    amount_paid: Decimal  # patient payments less refunds
    amount_pending: Decimal  # reserved by payments still at the gateway
    balance_due: Decimal  # patient_amount - amount_paid

    @property
    def payable_now(self) -> Decimal:
        """What a new payment may still take: the balance less what is reserved at the gateway."""
        return self.balance_due - self.amount_pending


async def find_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> InvoiceSummary | None:
    """The invoice, or None when unknown."""
    raise NotImplementedError


async def reserve_payment(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal) -> InvoiceSummary:
    """Lock the invoice and hold `amount` of its balance for a payment in flight.

    Raises 404 INVOICE_NOT_FOUND (also for a patient-role actor who is not the invoice's patient),
    409 INVOICE_NOT_PAYABLE (void or paid), 409 AMOUNT_EXCEEDS_BALANCE (amount > payable_now).
    """
    raise NotImplementedError


async def settle_payment(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal, *, succeeded: bool) -> InvoiceSummary:
    """Turn a reservation into a payment (`succeeded`) or release it. Updates the status
    (issued -> partially_paid -> paid) and publishes invoice.paid when the balance reaches zero."""
    raise NotImplementedError


async def record_refund(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal) -> InvoiceSummary:
    """Give `amount` back: amount_paid falls, the balance and the status follow (paid -> partially_paid -> issued)."""
    raise NotImplementedError
