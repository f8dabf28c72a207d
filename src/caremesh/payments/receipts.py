"""The receipt of a payment (`GET /payments/{id}/receipt`): as JSON, or as a one-page A4 PDF.

A receipt belongs to a completed payment and is numbered by the payment's reference, so printing it again gives
the same document: its balances are the invoice's as they stood when the payment was made (credit notes, earlier
payments and refunds up to that moment), with today's balance beside them. Read like the payment itself (the same
row scoping, the `payment.read` audit event); the invoice and the patient through billing's and patients' contracts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from caremesh.billing import contract as billing
from caremesh.patients import contract as patients
from caremesh.payments import service
from caremesh.payments.domain import PaymentStatus, RefundStatus
from caremesh.payments.errors import PaymentNotCompleted
from caremesh.payments.models import Payment, Refund
from caremesh.payments.schemas import ReceiptRead
from caremesh.platform.printing import A4Document, Column, Letterhead, Total, amount, letterhead
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

METHODS = {"cash": "Cash", "card": "Card", "upi": "UPI", "bank_transfer": "Bank transfer"}
REFUND_ROWS = 6  # refunds of one payment shown; a payment is rarely refunded in more than two parts

MOVEMENT_COLUMNS = (
    Column("Date", 26),
    Column("Document", 38),
    Column("Detail", 88),
    Column("Amount", 28, "R"),
)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Receipt:
    payment: Payment
    refunds: list[Refund]  # of this payment, completed, oldest first
    invoice: billing.InvoiceSummary
    patient: patients.PatientSummary | None
    balance_before: Decimal
    balance_after: Decimal

    def read(self) -> ReceiptRead:
        payment, invoice = self.payment, self.invoice
        return ReceiptRead(
            receipt_number=receipt_number(payment),
            payment_id=payment.id,
            patient_id=payment.patient_id,
            paid_at=payment.created_at,
            method=payment.method,  # type: ignore[arg-type]
            amount=payment.amount,
            refunded_amount=payment.refunded_amount,
            currency=payment.currency,
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            invoice_total=invoice.total,
            insurance_amount=invoice.insurance_amount,
            patient_amount=invoice.patient_amount,
            balance_before=self.balance_before,
            balance_after=self.balance_after,
            balance_due=invoice.balance_due,
        )


def receipt_number(payment: Payment) -> str:
    assert payment.reference is not None  # completed payments are numbered
    return payment.reference


def balance_at(patient_amount: Decimal, credits: Iterable[Decimal], paid: Iterable[Decimal]) -> Decimal:
    """The balance due given the credit notes and the net patient payments (refunds negative) counted so far."""
    return patient_amount - sum(credits, ZERO) - sum(paid, ZERO)


async def receipt(uow: UnitOfWork, payment_id: uuid.UUID) -> Receipt:
    """404 PAYMENT_NOT_FOUND as reading the payment (a patient's other patients' payments too); 409
    PAYMENT_NOT_COMPLETED for a failed one. Audited as `payment.read`."""
    payment = await service.get_payment(uow, payment_id)
    if payment.status != PaymentStatus.COMPLETED:
        raise PaymentNotCompleted(f"The payment {payment.reference} failed: nothing was received, so no receipt.")
    session = uow.session
    invoice = await billing.find_invoice(session, payment.invoice_id)
    assert invoice is not None  # invoices are never deleted
    patient = await patients.find_patient(session, payment.patient_id)

    paid = list(
        await session.scalars(
            select(Payment)
            .where(Payment.invoice_id == invoice.id, Payment.status == PaymentStatus.COMPLETED)
            .order_by(Payment.created_at, Payment.reference)
        )
    )
    refunds = list(
        await session.scalars(
            select(Refund)
            .join(Payment, Refund.payment_id == Payment.id)
            .where(Payment.invoice_id == invoice.id, Refund.status == RefundStatus.COMPLETED)
            .order_by(Refund.created_at, Refund.reference)
        )
    )
    before = paid[: paid.index(payment)]
    moment = payment.created_at
    credits = [note.amount for note in await billing.credit_notes_of(session, invoice.id) if note.created_at < moment]
    net_before = [p.amount for p in before] + [-r.amount for r in refunds if r.created_at < moment]
    balance_before = balance_at(invoice.patient_amount, credits, net_before)
    return Receipt(
        payment=payment,
        refunds=[r for r in refunds if r.payment_id == payment.id],
        invoice=invoice,
        patient=patient,
        balance_before=balance_before,
        balance_after=balance_before - payment.amount,
    )


def _patient_rows(found: Receipt) -> list[tuple[str, str]]:
    patient = found.patient
    if patient is None:
        return [("Name", "(patient record deleted)"), ("Patient ID", str(found.payment.patient_id))]
    return [
        ("Name", f"{patient.first_name} {patient.last_name}"),
        ("Date of birth", patient.date_of_birth.isoformat()),
        ("Patient ID", str(patient.id)),
    ]


def _movements(found: Receipt) -> list[list[str]]:
    payment = found.payment
    method = METHODS.get(payment.method, payment.method)
    rows = [[_day(payment.created_at), receipt_number(payment), f"Payment received ({method})", amount(payment.amount)]]
    refunds = found.refunds[:REFUND_ROWS]
    rows += [[_day(r.created_at), r.reference or "", f"Refunded: {r.reason}", amount(-r.amount)] for r in refunds]
    if len(found.refunds) > REFUND_ROWS:
        rows.append([f"… and {len(found.refunds) - REFUND_ROWS} more refunds (in the refunded amount below)"])
    return rows


def _day(moment: datetime) -> str:
    return clinic_date(moment).isoformat()


async def receipt_pdf(uow: UnitOfWork, found: Receipt) -> tuple[bytes, str]:
    """The receipt as a one-page A4 PDF, and its file name. Drawn off the event loop (a good part of a second of
    CPU), from what `receipt` loaded."""
    content = await asyncio.to_thread(_draw, found, letterhead(uow.settings.clinic), uow.now())
    return content, f"receipt-{receipt_number(found.payment)}.pdf"


def _draw(found: Receipt, issuer: Letterhead, now: datetime) -> bytes:
    payment, invoice = found.payment, found.invoice
    number = receipt_number(payment)
    currency = payment.currency
    document = A4Document(title=f"Receipt {number}", created_at=now)
    document.heading(
        issuer,
        "PAYMENT RECEIPT",
        [
            ("Receipt no.", number),
            ("Date", _day(payment.created_at)),
            ("Invoice no.", invoice.number),
            ("Method", METHODS.get(payment.method, payment.method)),
        ],
    )
    document.block("Received from", _patient_rows(found))
    document.section(f"Payment ({currency})")
    document.table(MOVEMENT_COLUMNS, _movements(found))
    rows = [
        Total(f"Amount received ({currency})", amount(payment.amount), strong=True),
        Total(f"Invoice {invoice.number} total", amount(invoice.total)),
        Total("Insurance share", amount(invoice.insurance_amount)),
        Total("Patient share", amount(invoice.patient_amount)),
        Total("Balance before this payment", amount(found.balance_before)),
        Total("This payment", amount(-payment.amount)),
        Total(f"Balance after this payment ({currency})", amount(found.balance_after), strong=True),
    ]
    if payment.refunded_amount:
        rows.append(Total("Refunded from this payment since", amount(payment.refunded_amount)))
    if invoice.balance_due != found.balance_after:
        rows.append(Total(f"Balance due on {_day(now)}", amount(invoice.balance_due)))
    document.totals(rows, width=110)
    document.note(
        "Received with thanks. The balances are the invoice's as they stood when this payment was made; a later "
        f"payment, refund or credit note changes the balance due, shown as of printing where it differs. "
        f"All amounts in {currency}."
    )
    document.footer(f"{number} · {invoice.number} · printed {_day(now)} · page 1 of 1")
    return document.bytes()
