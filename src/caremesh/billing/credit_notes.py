"""Credit notes: documents of their own (gapless `CN-` numbers) that reduce an invoice's patient share.

A credit note never edits the invoice's lines or total; the invoice's `credited_amount` adds it up, under the
invoice's row lock (as payments take it), so credit notes and payments of one invoice take turns and the CHECK
constraints (paid + pending + credited <= patient_amount) have the last word.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from caremesh.audit import contract as audit
from caremesh.billing import domain
from caremesh.billing.domain import InvoiceStatus
from caremesh.billing.errors import CreditExceedsInvoice, CreditNoteNotFound, InvoiceNotPayable
from caremesh.billing.events import CreditNoteIssued
from caremesh.billing.invoice_payments import refresh_status
from caremesh.billing.models import CreditNote, Invoice
from caremesh.billing.schemas import CreditNoteCreate, CreditNoteFilters
from caremesh.billing.service import INVOICES
from caremesh.platform.numbering import next_gapless_number
from caremesh.platform.pagination import PageParams
from caremesh.platform.repository import Repository
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

NUMBER_PREFIX = "CN"

# A patient-role principal sees only the credit notes of their own invoices; others do not exist for them.
CREDIT_NOTES: Repository[CreditNote] = audit.repository(
    CreditNote,
    CreditNoteNotFound,
    entity="credit_note",
    owner=CreditNote.patient_id,
    order_by=[CreditNote.number],  # the order they were issued
)


def _credit_problem(invoice: Invoice, amount: Decimal) -> Exception | None:
    if invoice.status == InvoiceStatus.VOID:
        return InvoiceNotPayable("The invoice is void; there is nothing to credit.")
    open_ = domain.creditable(
        invoice.patient_amount, invoice.credited_amount, invoice.amount_paid, invoice.amount_pending
    )
    if amount > open_:
        detail = f"At most {open_:.2f} of the patient's share is open to credit"
        if invoice.amount_paid > 0:
            detail += f" ({invoice.amount_paid:.2f} is paid: refund it first to credit it)"
        if invoice.amount_pending > 0:
            detail += f" ({invoice.amount_pending:.2f} is held by a payment in flight)"
        return CreditExceedsInvoice(f"{detail}.", extra={"creditable": f"{open_:.2f}"})
    return None


async def issue_credit_note(uow: UnitOfWork, invoice_id: uuid.UUID, data: CreditNoteCreate) -> CreditNote:
    """Credit `data.amount` of the invoice's open patient share: a new numbered credit note, the invoice's balance
    lower (paid when nothing is left), `credit_note.issued` (and `invoice.paid` when it settles the invoice)."""
    invoice = await INVOICES.load(uow, invoice_id, for_update=True)
    if problem := _credit_problem(invoice, data.amount):
        raise problem
    now = uow.now()
    invoice.credited_amount += data.amount
    refresh_status(uow, invoice)
    number = await next_gapless_number(uow.session, NUMBER_PREFIX, clinic_date(now).year)
    note = CreditNote(
        id=uuid.uuid4(),
        number=number,
        invoice_id=invoice.id,
        patient_id=invoice.patient_id,
        amount=data.amount,
        currency=invoice.currency,
        reason=data.reason,
        created_at=now,
    )
    uow.session.add(note)
    await uow.session.flush()
    uow.publish(
        CreditNoteIssued(
            credit_note_id=note.id,
            number=note.number,
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            patient_id=invoice.patient_id,
            amount=note.amount,
            currency=note.currency,
            reason=note.reason,
            balance_due=invoice.balance_due,
            kind=invoice.kind,
            issued_at=now,
        )
    )
    audit.record(uow, "credit_note.issue", "credit_note", note.id)
    audit.record(uow, "invoice.credit", "invoice", invoice.id)
    return note


async def get_credit_note(uow: UnitOfWork, credit_note_id: uuid.UUID) -> CreditNote:
    return await CREDIT_NOTES.get(uow, credit_note_id)


async def list_credit_notes(
    uow: UnitOfWork, filters: CreditNoteFilters, page: PageParams
) -> tuple[list[CreditNote], str | None]:
    return await CREDIT_NOTES.list(uow, filters, page)
