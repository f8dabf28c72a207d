"""The payments' side of an invoice: reservations, settlements, refunds and insurers' payments (see contract.py)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from caremesh.audit import contract as audit
from caremesh.billing import domain
from caremesh.billing.domain import InvoiceStatus
from caremesh.billing.errors import (
    AmountExceedsBalance,
    InsuranceShareExceeded,
    InvoiceNotPayable,
    NoPaymentPending,
    RefundExceedsAmountPaid,
)
from caremesh.billing.models import Invoice
from caremesh.billing.service import ANY_INVOICE, INVOICES, _paid_event
from caremesh.platform.errors import invalid_field
from caremesh.platform.uow import UnitOfWork


def refresh_status(uow: UnitOfWork, invoice: Invoice) -> None:
    """Derive the status from payments and credit; publish invoice.paid when the balance reaches zero."""
    before = invoice.status
    after = domain.payment_status(invoice.amount_paid, invoice.patient_amount, invoice.credited_amount)
    invoice.status = after
    invoice.updated_at = uow.now()
    if after == InvoiceStatus.PAID and before != InvoiceStatus.PAID:
        invoice.paid_at = uow.now()
        uow.publish(_paid_event(invoice))
    elif after != InvoiceStatus.PAID:
        invoice.paid_at = None


def _positive(amount: Decimal) -> Decimal:
    if amount <= 0 or domain.money(amount) != amount:
        raise invalid_field("amount", "must be a positive amount with at most two decimals")
    return amount


async def reserve_payment(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal) -> Invoice:
    amount = _positive(amount)
    invoice = await INVOICES.load(uow, invoice_id, for_update=True)
    if invoice.status in (InvoiceStatus.VOID, InvoiceStatus.PAID):
        raise InvoiceNotPayable(f"The invoice is {invoice.status}.")
    payable = invoice.balance_due - invoice.amount_pending
    if amount > payable:
        raise AmountExceedsBalance(f"At most {payable:.2f} can be paid now.", extra={"payable": f"{payable:.2f}"})
    invoice.amount_pending += amount
    invoice.updated_at = uow.now()
    await uow.session.flush()
    audit.record(uow, "invoice.payment_reserve", "invoice", invoice.id)
    return invoice


async def settle_payment(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal, *, succeeded: bool) -> Invoice:
    amount = _positive(amount)
    invoice = await ANY_INVOICE.load(uow, invoice_id, for_update=True)
    if amount > invoice.amount_pending:
        raise NoPaymentPending(f"Only {invoice.amount_pending:.2f} is pending on the invoice.")
    invoice.amount_pending -= amount
    if succeeded:
        invoice.amount_paid += amount
    refresh_status(uow, invoice)
    await uow.session.flush()
    audit.record(uow, "invoice.payment_settle" if succeeded else "invoice.payment_release", "invoice", invoice.id)
    return invoice


async def record_refund(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal) -> Invoice:
    amount = _positive(amount)
    invoice = await ANY_INVOICE.load(uow, invoice_id, for_update=True)
    if amount > invoice.amount_paid:
        raise RefundExceedsAmountPaid(f"Only {invoice.amount_paid:.2f} is paid on the invoice.")
    invoice.amount_paid -= amount
    refresh_status(uow, invoice)
    await uow.session.flush()
    audit.record(uow, "invoice.refund", "invoice", invoice.id)
    return invoice


async def record_insurance_payment(uow: UnitOfWork, invoice_id: uuid.UUID, amount: Decimal) -> Invoice:
    """Post an insurer's payment (a remittance) against the invoice's insurance share, under its row lock."""
    amount = _positive(amount)
    invoice = await ANY_INVOICE.load(uow, invoice_id, for_update=True)
    if invoice.status == InvoiceStatus.VOID:
        raise InvoiceNotPayable("The invoice is void.")
    outstanding = invoice.insurance_amount - invoice.insurance_paid
    if amount > outstanding:
        raise InsuranceShareExceeded(
            f"Only {outstanding:.2f} of the insurance share is outstanding.",
            extra={"outstanding": f"{outstanding:.2f}"},
        )
    invoice.insurance_paid += amount
    invoice.updated_at = uow.now()
    await uow.session.flush()
    audit.record(uow, "invoice.insurance_payment", "invoice", invoice.id)
    return invoice
