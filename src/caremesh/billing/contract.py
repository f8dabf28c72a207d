"""What other contexts may use of billing: the invoice as payments see it, order invoices for the orders saga,
the event names, and billing's vocabulary (`Kind`, the kinds of charge, and `INSURANCE_CATEGORIES`, what insurance
calls each).

Payments move money against an invoice only through `reserve_payment`, `settle_payment` and
`record_refund`. Each locks the invoice row, so payments of one invoice are serialised, and the
table's CHECK constraints keep `0 <= amount_paid` and `amount_paid + amount_pending <= patient_amount`
whatever the code does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.billing import invoice_payments, order_invoices, service
from caremesh.billing.coverage import INSURANCE_CATEGORIES
from caremesh.billing.domain import Kind
from caremesh.billing.errors import (
    AmountExceedsBalance,
    InsuranceShareExceeded,
    InvoiceHasPayments,
    InvoiceNotFound,
    InvoiceNotPayable,
    NoPaymentPending,
    RefundExceedsAmountPaid,
)
from caremesh.billing.events import (
    CREDIT_NOTE_ISSUED,
    INVOICE_ISSUED,
    INVOICE_PAID,
    INVOICE_VOIDED,
    CreditNoteIssued,
    InvoiceIssued,
    InvoicePaid,
    InvoiceVoided,
)
from caremesh.billing.models import CreditNote, Invoice, Tariff
from caremesh.billing.order_invoices import ChargeLine, OrderCharge
from caremesh.billing.schemas import InvoiceFilters
from caremesh.platform.mapping import from_attributes
from caremesh.platform.pagination import PageParams
from caremesh.platform.uow import UnitOfWork

__all__ = [
    "CREDIT_NOTE_ISSUED",
    "INSURANCE_CATEGORIES",
    "INVOICE_ISSUED",
    "INVOICE_PAID",
    "INVOICE_VOIDED",
    "AmountExceedsBalance",
    "ChargeLine",
    "CreditNoteIssued",
    "CreditNoteSummary",
    "InsuranceShareExceeded",
    "InvoiceHasPayments",
    "InvoiceIssued",
    "InvoiceLineSummary",
    "InvoiceNotFound",
    "InvoiceNotPayable",
    "InvoicePaid",
    "InvoiceSummary",
    "InvoiceVoided",
    "Kind",
    "NoPaymentPending",
    "OrderCharge",
    "RefundExceedsAmountPaid",
    "credit_notes_of",
    "find_invoice",
    "has_procedure_tariff",
    "issue_for_order",
    "record_insurance_payment",
    "record_refund",
    "reserve_payment",
    "settle_payment",
    "void_for_order",
]


@dataclass(frozen=True)
class InvoiceLineSummary:
    code: str
    description: str
    quantity: int
    unit_price: Decimal
    amount: Decimal  # quantity x unit_price, before discount and tax


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
    balance_due: Decimal  # patient_amount - credited_amount - amount_paid
    insurance_paid: Decimal  # posted from payers' remittances
    kind: str  # consultation | lab | medication | procedure | manual | premium
    service_date: date  # the visit's day, or the day the order was invoiced
    practitioner_id: uuid.UUID | None
    appointment_id: uuid.UUID | None
    order_id: uuid.UUID | None
    issued_at: datetime
    subtotal: Decimal
    discount_amount: Decimal
    tax_amount: Decimal
    lines: tuple[InvoiceLineSummary, ...]
    credited_amount: Decimal = Decimal("0.00")  # the sum of its credit notes
    # What insurance calls the category its split was computed under (a manual invoice's depends on its lines);
    # None for a premium invoice (no insurance share). Claims adjudicate under it.
    insurance_category: str | None = None
    premium_billing_id: uuid.UUID | None = None  # a premium invoice: insurance's premium billing it answers

    @property
    def payable_now(self) -> Decimal:
        """What a new payment may still take: the balance less what is reserved at the gateway."""
        return self.balance_due - self.amount_pending


def _summary(invoice: Invoice) -> InvoiceSummary:
    lines = tuple(from_attributes(InvoiceLineSummary, line) for line in invoice.lines)
    return from_attributes(InvoiceSummary, invoice, lines=lines)


async def find_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> InvoiceSummary | None:
    """The invoice, or None when unknown."""
    invoice = await session.get(Invoice, invoice_id, populate_existing=True)
    return None if invoice is None else _summary(invoice)


async def has_procedure_tariff(session: AsyncSession, code: str) -> bool:
    """Whether a `procedure` tariff prices CPT/HCPCS `code` (tariff codes are upper case): records refuses a
    procedure billing could not price."""
    found = await session.scalar(select(Tariff.code).where(Tariff.code == code.upper(), Tariff.kind == Kind.PROCEDURE))
    return found is not None


async def reserve_payment(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal) -> InvoiceSummary:
    """Lock the invoice and hold `amount` of its balance for a payment in flight.

    Raises 404 INVOICE_NOT_FOUND (also for a patient-role actor who is not the invoice's patient),
    409 INVOICE_NOT_PAYABLE (void or paid), 409 AMOUNT_EXCEEDS_BALANCE (amount > payable_now).
    """
    return _summary(await invoice_payments.reserve_payment(uow, invoice_id, amount))


async def settle_payment(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal, *, succeeded: bool) -> InvoiceSummary:
    """Turn a reservation into a payment (`succeeded`) or release it. Updates the status
    (issued -> partially_paid -> paid) and publishes invoice.paid when the balance reaches zero.

    Raises 404 INVOICE_NOT_FOUND, 409 NO_PAYMENT_PENDING (more than is reserved)."""
    return _summary(await invoice_payments.settle_payment(uow, invoice_id, amount, succeeded=succeeded))


async def record_refund(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal) -> InvoiceSummary:
    """Give `amount` back: amount_paid falls, the balance and the status follow (paid -> partially_paid -> issued).

    Raises 404 INVOICE_NOT_FOUND, 409 REFUND_EXCEEDS_AMOUNT_PAID."""
    return _summary(await invoice_payments.record_refund(uow, invoice_id, amount))


async def issue_for_order(uow: UnitOfWork, charge: OrderCharge) -> tuple[InvoiceSummary, bool]:
    """The order's invoice, issuing it on the first call: (invoice, issued now). Lines are quantity × the
    catalogue's unit price; the tax rate (and any per-order fee) comes from the kind's order tariff; the insurance
    split as for visits. Raises 404 PATIENT_NOT_FOUND when the patient is gone; writes nothing when it raises."""
    invoice, issued = await order_invoices.issue_for_order(uow, charge)
    return _summary(invoice), issued


async def void_for_order(uow: UnitOfWork, order_id: uuid.UUID, reason: str) -> InvoiceSummary | None:
    """Void the order's invoice; None when there is none (or it is void already).
    Raises 409 INVOICE_HAS_PAYMENTS when money has moved on it."""
    invoice = await order_invoices.void_for_order(uow, order_id, reason)
    return None if invoice is None else _summary(invoice)


async def record_insurance_payment(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal) -> InvoiceSummary:
    """Post a payer's payment against the invoice's insurance share (claims' remittances), under the invoice's row
    lock. Raises 404 INVOICE_NOT_FOUND, 409 INVOICE_NOT_PAYABLE (void), 409 INSURANCE_SHARE_EXCEEDED (more than the
    share still outstanding), 422 for an amount not above zero."""
    return _summary(await invoice_payments.record_insurance_payment(uow, invoice_id, amount))


@dataclass(frozen=True)
class CreditNoteSummary:
    number: str
    amount: Decimal
    reason: str
    created_at: datetime


async def credit_notes_of(session: AsyncSession, invoice_id: uuid.UUID) -> list[CreditNoteSummary]:
    """The invoice's credit notes in the order they were issued (a receipt's balance after its payment counts those
    issued before it). Checks no principal: the caller has already been allowed to read the invoice."""
    notes = await session.scalars(
        select(CreditNote).where(CreditNote.invoice_id == invoice_id).order_by(CreditNote.number)
    )
    return [from_attributes(CreditNoteSummary, note) for note in notes]


# --- issue 17: reads for the FHIR facade, through the same use cases as GET /invoices (scoping and audit) ---


async def read_invoice(uow: UnitOfWork, invoice_id: uuid.UUID) -> InvoiceSummary:
    """Only if the principal may see it (a patient: their own), audited as `invoice.read`; else InvoiceNotFound."""
    return _summary(await service.get_invoice(uow, invoice_id))


async def search_invoices(
    uow: UnitOfWork, *, patient_id: uuid.UUID | None = None, limit: int, cursor: str | None = None
) -> tuple[list[InvoiceSummary], str | None]:
    """One page of what `GET /invoices` lists (of one patient, if given), in the order they were issued, scoped and
    audited as it is; and the next cursor."""
    rows, next_cursor = await service.list_invoices(
        uow, InvoiceFilters(patient_id=patient_id), PageParams(limit=limit, cursor=cursor)
    )
    return [_summary(row) for row in rows], next_cursor


__all__ += ["read_invoice", "search_invoices"]
