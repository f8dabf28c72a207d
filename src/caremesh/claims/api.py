from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError

from caremesh.claims import errors, reconciliation, remittances, service, x12_documents
from caremesh.claims.schemas import (
    ApproveRequest,
    ClaimCreate,
    ClaimFilters,
    ClaimRead,
    DisputeCreate,
    DisputeFilters,
    DisputeRead,
    DisputeResolve,
    HistoryEntryRead,
    ReconciliationReport,
    RejectRequest,
    RemittanceIn,
    RemittanceRead,
)
from caremesh.platform.api import API_PREFIX, IfMatch, TransactionalRoute, Uow, read_model, read_page, require
from caremesh.platform.errors import MalformedJson, Unprocessable, UnsupportedMediaType
from caremesh.platform.mapping import InClinicCurrency
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams

router = APIRouter(tags=["claims"], route_class=TransactionalRoute)

READ, WRITE = require("claims:read"), require("claims:write")
RECONCILE_READ, RECONCILE_WRITE = require("reconciliation:read"), require("reconciliation:write")


# --- claims -----------------------------------------------------------------------------------------------


@router.post(
    "/claims",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE],
    responses=problems(
        errors.ClaimExists, errors.NotClaimable, (404, "INVOICE_NOT_FOUND"), (422, "UNKNOWN_DIAGNOSIS_CODE")
    ),
)
async def create_claim(body: ClaimCreate, uow: Uow, response: Response) -> ClaimRead:
    """A draft claim for the invoice's insurance share, with one line per invoice line (a visit's procedures are
    lines of their own). Its diagnoses: those given, else the visit's as recorded (see `diagnosis_codes`)."""
    claim = await service.create_claim(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/claims/{claim.id}"
    return read_model(ClaimRead, claim, response)


@router.get("/claims", dependencies=[READ])
async def list_claims(
    uow: Uow, filters: Annotated[ClaimFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[ClaimRead]:
    return read_page(ClaimRead, await service.list_claims(uow, filters, page))


@router.get("/claims/{claim_id}", dependencies=[READ], responses=problems(errors.ClaimNotFound))
async def get_claim(claim_id: uuid.UUID, uow: Uow, response: Response) -> ClaimRead:
    return read_model(ClaimRead, await service.get_claim(uow, claim_id), response)


@router.post(
    "/claims/{claim_id}/submit",
    dependencies=[WRITE],
    responses=problems(
        errors.ClaimNotFound,
        errors.DuplicateClaim,
        errors.InvalidStatusTransition,
        errors.NotClaimable,
        errors.ClaimWindowExpired,
        errors.DiagnosisRequired,
    ),
)
async def submit_claim(claim_id: uuid.UUID, uow: Uow, response: Response) -> ClaimRead:
    """Send the claim to the payer. A claim without diagnoses takes the record's now; none there: 422
    DIAGNOSIS_REQUIRED."""
    return read_model(ClaimRead, await service.submit(uow, claim_id), response)


@router.post(
    "/claims/{claim_id}/process",
    dependencies=[WRITE],
    responses=problems(errors.ClaimNotFound, errors.InvalidStatusTransition),
)
async def process_claim(claim_id: uuid.UUID, uow: Uow, response: Response) -> ClaimRead:
    """Adjudicate automatically against the patient's scheme, with X12 reason codes per line."""
    return read_model(ClaimRead, await service.process(uow, claim_id), response)


@router.post(
    "/claims/{claim_id}/approve",
    dependencies=[WRITE],
    responses=problems(
        errors.ClaimNotFound,
        errors.InvalidStatusTransition,
        (409, "DEDUCTIBLE_EXCEEDED"),
        (409, "ANNUAL_LIMIT_EXCEEDED"),
    ),
)
async def approve_claim(claim_id: uuid.UUID, body: ApproveRequest, uow: Uow, response: Response) -> ClaimRead:
    return read_model(ClaimRead, await service.approve(uow, claim_id, body.approved_amount), response)


@router.post(
    "/claims/{claim_id}/reject",
    dependencies=[WRITE],
    responses=problems(errors.ClaimNotFound, errors.InvalidStatusTransition),
)
async def reject_claim(claim_id: uuid.UUID, body: RejectRequest, uow: Uow, response: Response) -> ClaimRead:
    return read_model(ClaimRead, await service.reject(uow, claim_id, body.reason_code, body.reason), response)


@router.get("/claims/{claim_id}/history", dependencies=[READ], responses=problems(errors.ClaimNotFound))
async def claim_history(claim_id: uuid.UUID, uow: Uow, page: PageParams = Depends()) -> Page[HistoryEntryRead]:
    """The claim's transitions, oldest first."""
    rows, cursor = await service.history(uow, claim_id, page)
    return Page(items=[read_model(HistoryEntryRead, e) for e in rows], next_cursor=cursor)


@router.get(
    "/claims/{claim_id}/x12",
    dependencies=[READ],
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "An ASC X12 837P (005010X222A1) interchange"},
        **problems(errors.ClaimNotFound, errors.NotClaimable),
    },
)
async def claim_x12(claim_id: uuid.UUID, uow: Uow) -> PlainTextResponse:
    return PlainTextResponse(await x12_documents.x12_837p(uow, claim_id))


# --- disputes ---------------------------------------------------------------------------------------------


@router.post(
    "/disputes",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE],
    responses=problems(errors.ClaimNotFound, errors.DisputeExists, errors.InvalidStatusTransition),
)
async def open_dispute(body: DisputeCreate, uow: Uow, response: Response) -> DisputeRead:
    dispute = await service.open_dispute(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/disputes/{dispute.id}"
    return read_model(DisputeRead, dispute, response)


@router.post(
    "/disputes/{dispute_id}/resolve",
    dependencies=[WRITE],
    responses=problems(
        errors.ClaimNotFound,
        errors.DisputeNotFound,
        errors.DisputeResolved,
        errors.InvalidStatusTransition,
        (409, "DEDUCTIBLE_EXCEEDED"),
        (409, "ANNUAL_LIMIT_EXCEEDED"),
        (409, "NOTHING_TO_REVERSE"),
    ),
)
async def resolve_dispute(
    dispute_id: uuid.UUID, body: DisputeResolve, uow: Uow, if_match: IfMatch, response: Response
) -> DisputeRead:
    """`overturned` approves the claim for `approved_amount` (default: the claimed amount); `upheld` leaves it."""
    return read_model(DisputeRead, await service.resolve_dispute(uow, dispute_id, body, if_match), response)


@router.get("/disputes", dependencies=[READ])
async def list_disputes(
    uow: Uow, filters: Annotated[DisputeFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[DisputeRead]:
    return read_page(DisputeRead, await service.list_disputes(uow, filters, page))


@router.get("/disputes/{dispute_id}", dependencies=[READ], responses=problems(errors.DisputeNotFound))
async def get_dispute(dispute_id: uuid.UUID, uow: Uow, response: Response) -> DisputeRead:
    return read_model(DisputeRead, await service.get_dispute(uow, dispute_id), response)


# --- reconciliation ---------------------------------------------------------------------------------------

X12_TYPES = ("text/plain", "application/edi-x12", "application/x12")
REMITTANCE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": RemittanceIn.model_json_schema()},
            "text/plain": {"schema": {"type": "string", "description": "An ASC X12 835 (005010X221A1)"}},
        },
    }
}


async def _remittance_body(request: Request) -> tuple[RemittanceIn, str]:
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    raw = await request.body()
    if media_type in X12_TYPES:
        return x12_documents.remittance_from_835(raw.decode("utf-8", errors="replace")), "x12_835"
    if media_type != "application/json":
        raise UnsupportedMediaType(f"Send a remittance as application/json or as an X12 835 in {', '.join(X12_TYPES)}.")
    try:
        document = json.loads(raw or b"null")
    except (ValueError, RecursionError) as error:  # not JSON, not UTF-8, or nested too deep
        raise MalformedJson(f"The body is not valid JSON: {error}.") from error
    try:
        return RemittanceIn.model_validate(document), "json"
    except ValidationError as error:
        raise Unprocessable(
            "The remittance is not valid.",
            extra={"errors": [{"loc": ["body", *e["loc"]], "msg": e["msg"]} for e in error.errors()]},
        ) from error


@router.post(
    "/reconciliation/process",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RECONCILE_WRITE],
    openapi_extra=REMITTANCE_BODY,
    response_model=RemittanceRead,
    responses={
        200: {"model": RemittanceRead, "description": "The same remittance again: the first answer, replayed"},
        **problems(errors.RemittanceConflict, errors.InvalidX12),
    },
)
async def process_remittance(request: Request, uow: Uow) -> JSONResponse:
    """Post a payer's remittance (JSON, or an X12 835 as text/plain) to claims and invoices, once: the same
    remittance again answers 200 with the first answer and `Idempotent-Replayed: true`."""
    data, format_ = await _remittance_body(request)
    remittance, replayed = await remittances.process_remittance(uow, data, format_)
    body = read_model(RemittanceRead, InClinicCurrency(remittance, uow)).model_dump(mode="json")
    if replayed:
        return JSONResponse(body, status_code=status.HTTP_200_OK, headers={"Idempotent-Replayed": "true"})
    return JSONResponse(body, status_code=status.HTTP_201_CREATED)


@router.get("/reconciliation/report", dependencies=[RECONCILE_READ], response_model_by_alias=True)
async def reconciliation_report(
    uow: Uow,
    from_: date = Query(alias="from"),
    to: date = Query(),
) -> ReconciliationReport:
    """Remittances received from `from` to `to` (clinic dates, inclusive): what was posted, what was not and why,
    totals by payer; and the approved claims still waiting for payment."""
    return read_model(ReconciliationReport, await reconciliation.report(uow, from_, to))
