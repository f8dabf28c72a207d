from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from caremesh.billing import credit_notes, documents, errors, manual_invoices, receivables, service, tariffs
from caremesh.billing.models import Tariff
from caremesh.billing.schemas import (
    AccountsReceivableRead,
    CreditNoteCreate,
    CreditNoteFilters,
    CreditNoteRead,
    InvoiceCreate,
    InvoiceFilters,
    InvoiceRead,
    InvoiceVoid,
    ManualInvoiceCreate,
    TariffCreate,
    TariffFilters,
    TariffRead,
    TariffUpdate,
)
from caremesh.patients.contract import PatientNotFound
from caremesh.platform.api import API_PREFIX, IfMatch, TransactionalRoute, Uow, read_model, read_page, require, set_etag
from caremesh.platform.negotiation import JSON, PDF, alternatives, document, negotiated
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams
from caremesh.platform.uow import UnitOfWork
from caremesh.practitioners.contract import PractitionerNotFound
from caremesh.scheduling.contract import AppointmentNotFound

router = APIRouter(tags=["billing"], route_class=TransactionalRoute)

UNKNOWN_TARIFF = (422, "UNKNOWN_TARIFF")
TARIFF_NEEDS_PRACTITIONER = (422, "TARIFF_NEEDS_PRACTITIONER")
MIXED_CHARGES = (422, "MIXED_CHARGES")

LAST_AGING_DAY = date(9999, 12, 30)  # aging looks at the day after `as_of`


# --- tariffs --------------------------------------------------------------------------


def _tariff_context(uow: UnitOfWork) -> dict[str, Any]:
    """What TariffRead is validated with: the default tax rate `effective_tax_rate` falls back to."""
    return {"default_tax_rate": uow.settings.billing.tax_rate}


def _tariff_read(uow: UnitOfWork, tariff: Tariff) -> TariffRead:
    return TariffRead.model_validate(tariff, from_attributes=True, context=_tariff_context(uow))


def _tariff(uow: UnitOfWork, tariff: Tariff, response: Response) -> TariffRead:
    set_etag(response, tariff.version)
    return _tariff_read(uow, tariff)


@router.get("/tariffs", dependencies=[require("tariffs:read")])
async def list_tariffs(
    uow: Uow, filters: Annotated[TariffFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[TariffRead]:
    return read_page(TariffRead, await tariffs.list_tariffs(uow, filters, page), context=_tariff_context(uow))


@router.post(
    "/tariffs",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require("tariffs:write")],
    responses=problems(errors.ConsultationTariffExists, errors.TariffExists),
)
async def create_tariff(body: TariffCreate, uow: Uow, response: Response) -> TariffRead:
    tariff = await tariffs.create_tariff(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/tariffs/{tariff.code}"
    return _tariff(uow, tariff, response)


@router.get("/tariffs/{code}", dependencies=[require("tariffs:read")], responses=problems(errors.TariffNotFound))
async def get_tariff(code: str, uow: Uow, response: Response) -> TariffRead:
    return _tariff(uow, await tariffs.get_tariff(uow, code), response)


@router.patch(
    "/tariffs/{code}",
    dependencies=[require("tariffs:write")],
    responses=problems(errors.TariffNotFound, errors.ConsultationTariffExists, errors.TariffExists),
)
async def update_tariff(code: str, body: TariffUpdate, uow: Uow, if_match: IfMatch, response: Response) -> TariffRead:
    return _tariff(uow, await tariffs.update_tariff(uow, code, body, if_match), response)


# --- invoices -------------------------------------------------------------------------


@router.post(
    "/invoices",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require("invoices:write")],
    responses={
        200: {"model": InvoiceRead, "description": "The appointment's invoice, issued before"},
        **problems(
            AppointmentNotFound,
            PatientNotFound,
            PractitionerNotFound,
            errors.AppointmentCancelled,
            errors.AppointmentNotCompleted,
            errors.NoApplicableTariff,
            UNKNOWN_TARIFF,
            TARIFF_NEEDS_PRACTITIONER,
            MIXED_CHARGES,
        ),
    },
)
async def create_invoice(body: InvoiceCreate | ManualInvoiceCreate, uow: Uow, response: Response) -> InvoiceRead:
    """Invoice a visit (`appointment_id`: 201 the first time, 200 with the same invoice after), or lines entered
    at the desk for a patient (`patient_id`, `lines`: a new invoice of kind `manual`, 201)."""
    if isinstance(body, ManualInvoiceCreate):
        invoice = await manual_invoices.issue_manual_invoice(uow, body)
    else:
        invoice, issued = await service.issue_for_appointment(uow, body.appointment_id)
        if not issued:
            response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"{API_PREFIX}/invoices/{invoice.id}"
    return read_model(InvoiceRead, invoice, response)


@router.get("/invoices", dependencies=[require("invoices:read")])
async def list_invoices(
    uow: Uow, filters: Annotated[InvoiceFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[InvoiceRead]:
    return read_page(InvoiceRead, await service.list_invoices(uow, filters, page))


@router.get(
    "/invoices/{invoice_id}",
    dependencies=[require("invoices:read")],
    response_model=InvoiceRead,
    responses={
        **alternatives(PDF, description="The invoice; with `Accept: application/pdf`, printable: one A4 page"),
        **problems(errors.InvoiceNotFound),
    },
)
async def get_invoice(
    invoice_id: uuid.UUID, uow: Uow, response: Response, media_type: Annotated[str, negotiated(JSON, PDF)]
) -> Any:
    """The invoice as JSON, or (`Accept: application/pdf`) as a printable one-page A4 PDF with the clinic, the
    patient, the lines, tax, the insurance split, credit notes, payments and the balance due."""
    if media_type == PDF:
        content, filename = await documents.invoice_pdf(uow, invoice_id)
        return document(content, PDF, filename)
    return read_model(InvoiceRead, await service.get_invoice(uow, invoice_id), response)


@router.post(
    "/invoices/{invoice_id}/void",
    dependencies=[require("invoices:write")],
    responses=problems(
        errors.InvoiceNotFound, errors.InvoiceHasPayments, errors.InvoiceHasCreditNotes, errors.InvoiceNotVoidable
    ),
)
async def void_invoice(
    invoice_id: uuid.UUID, uow: Uow, if_match: IfMatch, response: Response, body: InvoiceVoid | None = None
) -> InvoiceRead:
    reason = body.reason if body else None
    return read_model(InvoiceRead, await service.void_invoice(uow, invoice_id, reason, if_match), response)


# --- credit notes ---------------------------------------------------------------------


@router.post(
    "/invoices/{invoice_id}/credit-notes",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require("invoices:write")],
    responses=problems(errors.InvoiceNotFound, errors.InvoiceNotPayable, errors.CreditExceedsInvoice),
)
async def create_credit_note(
    invoice_id: uuid.UUID, body: CreditNoteCreate, uow: Uow, response: Response
) -> CreditNoteRead:
    """Credit part of the invoice's open patient share: a numbered document of its own; the invoice's balance falls
    (paid when nothing is left). A paid invoice is refunded first, which reopens its balance."""
    note = await credit_notes.issue_credit_note(uow, invoice_id, body)
    response.headers["Location"] = f"{API_PREFIX}/credit-notes/{note.id}"
    return read_model(CreditNoteRead, note)


@router.get("/credit-notes", dependencies=[require("invoices:read")])
async def list_credit_notes(
    uow: Uow, filters: Annotated[CreditNoteFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[CreditNoteRead]:
    return read_page(CreditNoteRead, await credit_notes.list_credit_notes(uow, filters, page))


@router.get(
    "/credit-notes/{credit_note_id}",
    dependencies=[require("invoices:read")],
    responses=problems(errors.CreditNoteNotFound),
)
async def get_credit_note(credit_note_id: uuid.UUID, uow: Uow) -> CreditNoteRead:
    return read_model(CreditNoteRead, await credit_notes.get_credit_note(uow, credit_note_id))


# --- accounts receivable --------------------------------------------------------------


@router.get("/accounts-receivable", dependencies=[require("accounts_receivable:read")])
async def accounts_receivable(
    uow: Uow,
    as_of: date | None = Query(None, le=LAST_AGING_DAY, description="YYYY-MM-DD; default: today at the clinic"),
) -> AccountsReceivableRead:
    return await receivables.accounts_receivable(uow, as_of)
