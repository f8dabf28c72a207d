"""The printable invoice: one A4 page with the clinic, the patient, the lines, tax, the insurance split, credit
notes, payments and refunds, and the balance due (`GET /invoices/{id}` with `Accept: application/pdf`).

It reads the invoice as the JSON read does (the same row scoping, the same `invoice.read` audit event), the
patient through patients' contract and the payments through payments' contract. Figures are printed exactly as
stored. Too many lines or account entries for the page: the first are shown and one row sums up the rest.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from caremesh.billing import service
from caremesh.billing.domain import InvoiceStatus
from caremesh.billing.models import CreditNote, Invoice
from caremesh.patients import contract as patients
from caremesh.payments import contract as payments
from caremesh.platform.printing import A4Document, Column, Letterhead, Total, amount, fitting, letterhead, percent
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

LINE_ROWS = 14  # lines of the invoice shown before the rest are summed up in one row
ACCOUNT_ROWS = 6  # credit notes, payments and refunds shown before the rest are summed up

LINE_COLUMNS = (
    Column("Description", 72),
    Column("Code", 38),
    Column("Qty", 14, "R"),
    Column("Unit price", 28, "R"),
    Column("Amount", 28, "R"),
)
ACCOUNT_COLUMNS = (
    Column("Date", 24),
    Column("Document", 34),
    Column("Detail", 94),
    Column("Amount", 28, "R"),
)
STATUS = {"issued": "Issued", "partially_paid": "Partially paid", "paid": "Paid", "void": "Void"}
METHODS = {"cash": "cash", "card": "card", "upi": "UPI", "bank_transfer": "bank transfer"}


@dataclass(frozen=True)
class Entry:
    """One movement on the patient's share: a credit note, a payment or a refund."""

    kind: str  # credit_note | payment | refund
    at: datetime
    document: str
    detail: str
    change: Decimal  # what it does to the balance: negative lowers it


def filename(invoice: Invoice) -> str:
    return f"{invoice.number}.pdf"


def patient_rows(patient: patients.PatientSummary | None, patient_id: uuid.UUID) -> list[tuple[str, str]]:
    """Who the document is for, as the invoices and receipts print it."""
    if patient is None:
        return [("Name", "(patient record deleted)"), ("Patient ID", str(patient_id))]
    return [
        ("Name", f"{patient.first_name} {patient.last_name}"),
        ("Date of birth", patient.date_of_birth.isoformat()),
        ("Patient ID", str(patient.id)),
    ]


def _insurance(invoice: Invoice, patient: patients.PatientSummary | None) -> str:
    if invoice.insurance_bin is None:
        return "None (self-pay)"
    member = patient.insurance_member_id if patient is not None else None
    parts = [f"BIN {invoice.insurance_bin}", f"PCN {invoice.insurance_pcn or '-'}"]
    if member:
        parts.append(f"Member {member}")
    return " · ".join(parts)


def _entries(notes: list[CreditNote], paid: list[payments.PaymentSummary]) -> list[Entry]:
    entries = [Entry("credit_note", n.created_at, n.number, f"Credit note: {n.reason}", -n.amount) for n in notes]
    for payment in paid:
        method = METHODS.get(payment.method, payment.method)
        entries.append(Entry("payment", payment.created_at, payment.reference, f"Payment ({method})", -payment.amount))
        entries += [
            Entry("refund", refund.created_at, refund.reference, f"Refund of {payment.reference}", refund.amount)
            for refund in payment.refunds
        ]
    return sorted(entries, key=lambda entry: (entry.at, entry.document))  # numbers follow the order made


def _line_rows(invoice: Invoice) -> list[list[str]]:
    shown, hidden = fitting(invoice.lines, LINE_ROWS)
    rows = [
        [line.description, line.code, str(line.quantity), amount(line.unit_price), amount(line.amount)]
        for line in shown
    ]
    if hidden:
        rest = sum((line.amount for line in hidden), Decimal("0.00"))
        rows.append([f"… and {len(hidden)} more lines, together {amount(rest)} (all in the subtotal)"])
    return rows


def _account_rows(entries: list[Entry]) -> list[list[str]]:
    shown, hidden = fitting(entries, ACCOUNT_ROWS)
    rows = [[clinic_date(e.at).isoformat(), e.document, e.detail, amount(e.change)] for e in shown]
    if hidden:
        net = sum((entry.change for entry in hidden), Decimal("0.00"))
        rows.append([f"… and {len(hidden)} more entries, together {amount(net)} (all in the totals)"])
    return rows


def _totals(invoice: Invoice, entries: list[Entry]) -> list[Total]:
    rows = [Total("Subtotal", amount(invoice.subtotal))]
    if invoice.discount_amount:
        rows.append(Total(f"Discount ({invoice.discount_percent}%)", amount(-invoice.discount_amount)))
    rows += [
        Total(f"Tax ({percent(invoice.tax_rate * 100)}%)", amount(invoice.tax_amount)),
        Total(f"Total ({invoice.currency})", amount(invoice.total), strong=True),
        Total(f"Insurance share ({percent(invoice.coverage * 100)}%)", amount(invoice.insurance_amount)),
        Total("Patient share", amount(invoice.patient_amount)),
    ]
    if invoice.credited_amount:
        rows.append(Total("Credit notes", amount(-invoice.credited_amount)))
    paid = sum((-e.change for e in entries if e.kind == "payment"), Decimal("0.00"))
    refunded = sum((e.change for e in entries if e.kind == "refund"), Decimal("0.00"))
    if paid:
        rows.append(Total("Payments", amount(-paid)))
    if refunded:
        rows.append(Total("Refunds", amount(refunded)))
    if invoice.status == InvoiceStatus.VOID:  # its stored balance is not owed
        rows.append(Total("Void: nothing is due", "", strong=True))
    else:
        rows.append(Total(f"Balance due ({invoice.currency})", amount(invoice.balance_due), strong=True))
    return rows


async def invoice_pdf(uow: UnitOfWork, invoice_id: uuid.UUID) -> tuple[bytes, str]:
    """The invoice as a one-page A4 PDF, and its file name. 404 INVOICE_NOT_FOUND as the JSON read (a patient-role
    principal's other patients' invoices included); audited as `invoice.read`."""
    invoice = await service.get_invoice(uow, invoice_id)
    session = uow.session
    patient = await patients.find_patient(session, invoice.patient_id)
    notes = list(
        await session.scalars(select(CreditNote).where(CreditNote.invoice_id == invoice.id).order_by(CreditNote.number))
    )
    entries = _entries(notes, await payments.payments_of_invoice(session, invoice.id))
    # Drawing takes a good part of a second of CPU: off the event loop, from what is loaded already.
    content = await asyncio.to_thread(_draw, invoice, patient, entries, letterhead(uow.settings.clinic), uow.now())
    return content, filename(invoice)


def _draw(
    invoice: Invoice, patient: patients.PatientSummary | None, entries: list[Entry], issuer: Letterhead, now: datetime
) -> bytes:
    void = invoice.status == InvoiceStatus.VOID
    document = A4Document(title=f"Invoice {invoice.number}", created_at=now)
    document.heading(
        issuer,
        "INVOICE (VOID)" if void else "INVOICE",
        [
            ("Invoice no.", invoice.number),
            ("Issued", clinic_date(invoice.issued_at).isoformat()),
            ("Service date", invoice.service_date.isoformat()),
            ("Status", STATUS.get(invoice.status, invoice.status)),
        ],
    )
    document.block("Patient", [*patient_rows(patient, invoice.patient_id), ("Insurance", _insurance(invoice, patient))])
    document.section(f"Charges ({invoice.currency})")
    document.table(LINE_COLUMNS, _line_rows(invoice))
    document.totals(_totals(invoice, entries))
    document.section("Credit notes, payments and refunds")
    document.table(ACCOUNT_COLUMNS, _account_rows(entries), empty="No payments yet.")
    if void:
        document.note(
            f"This invoice was voided on {clinic_date(invoice.voided_at or now).isoformat()}: "
            f"{invoice.void_reason or 'no reason given'}."
        )
    else:
        document.note(
            "The insurance share is claimed from the insurer by the clinic; the balance due is the patient's to pay. "
            f"All amounts in {invoice.currency}."
        )
    document.footer(f"{invoice.number} · printed {clinic_date(now).isoformat()} · page 1 of 1")
    return document.bytes()
