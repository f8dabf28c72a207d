from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError

from caremesh.claims import attachments, edits, errors, files, reconciliation, remittances, service, x12_documents
from caremesh.claims.schemas import (
    ApproveRequest,
    AttachmentRead,
    ClaimCreate,
    ClaimFilters,
    ClaimRead,
    ClaimUpdate,
    DisputeCreate,
    DisputeFilters,
    DisputeRead,
    DisputeResolve,
    HistoryEntryRead,
    ReconciliationReport,
    RejectRequest,
    RemittanceFilters,
    RemittanceIn,
    RemittanceRead,
    RemittanceSummaryRead,
    WithdrawRequest,
)
from caremesh.platform.api import (
    API_PREFIX,
    IfMatch,
    TransactionalRoute,
    Uow,
    max_body_bytes,
    read_model,
    read_page,
    require,
)
from caremesh.platform.errors import PROBLEM_JSON, MalformedJson, Unprocessable, UnsupportedMediaType, problem
from caremesh.platform.mapping import InClinicCurrency
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams
from caremesh.platform.storage import CHUNK_SIZE, ObjectStorage
from caremesh.platform.storage.route import StoringRoute

router = APIRouter(tags=["claims"], route_class=TransactionalRoute)

READ, WRITE = require("claims:read"), require("claims:write")
ATTACHMENTS_READ, ATTACHMENTS_WRITE = require("claim_attachments:read"), require("claim_attachments:write")
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


@router.patch(
    "/claims/{claim_id}",
    dependencies=[WRITE],
    responses=problems(
        errors.ClaimNotFound, errors.InvalidStatusTransition, errors.NotClaimable, (422, "UNKNOWN_DIAGNOSIS_CODE")
    ),
)
async def update_claim(
    claim_id: uuid.UUID, body: ClaimUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> ClaimRead:
    """Correct a draft: its diagnoses (order kept, the first principal) and its lines. `lines` lists every line
    the claim keeps, by its invoice line's position; a line may be lowered (quantity, claimed amount), never
    above what the invoice gives it, and the claim's totals follow."""
    return read_model(ClaimRead, await edits.update_claim(uow, claim_id, body, if_match), response)


@router.post(
    "/claims/{claim_id}/withdraw",
    dependencies=[WRITE],
    responses=problems(errors.ClaimNotFound, errors.InvalidStatusTransition),
)
async def withdraw_claim(
    claim_id: uuid.UUID, uow: Uow, response: Response, body: WithdrawRequest | None = None
) -> ClaimRead:
    """Take back a draft, or a submitted claim the payer has not decided: `withdrawn`, and the invoice may be
    claimed again."""
    return read_model(ClaimRead, await edits.withdraw(uow, claim_id, body.reason if body else None), response)


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


# --- dispute attachments ----------------------------------------------------------------------------------

# The file's own limit is checked while it is copied to storage; the body may exceed it by the multipart framing.
MULTIPART_ALLOWANCE = 64 * 1024
storing = APIRouter(tags=["claims"], route_class=StoringRoute)


@storing.post(
    "/disputes/{dispute_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    dependencies=[ATTACHMENTS_WRITE],
    responses=problems(errors.DisputeNotFound, errors.DisputeResolved, errors.DisputeAttachmentLimit),
)
@max_body_bytes(attachments.MAX_ATTACHMENT_BYTES + MULTIPART_ALLOWANCE)
async def add_attachment(
    dispute_id: uuid.UUID,
    uow: Uow,
    response: Response,
    file: Annotated[UploadFile, File(description="A PDF, PNG or JPEG of at most 10 MiB, known by its bytes")],
) -> AttachmentRead:
    """File a document with an open dispute (multipart/form-data, one `file`). Its type is decided by its bytes,
    whatever its name or declared type (else 415); its name is kept without any path or control characters. A
    dispute holds at most 20 files (409 `DISPUTE_ATTACHMENT_LIMIT`)."""
    attachment = await attachments.add_attachment(uow, dispute_id, file)
    response.headers["Location"] = f"{API_PREFIX}/attachments/{attachment.id}"
    return read_model(AttachmentRead, attachment)


@router.get(
    "/disputes/{dispute_id}/attachments", dependencies=[ATTACHMENTS_READ], responses=problems(errors.DisputeNotFound)
)
async def list_attachments(
    dispute_id: uuid.UUID, uow: Uow, page: Annotated[PageParams, Depends()]
) -> Page[AttachmentRead]:
    return read_page(AttachmentRead, await attachments.list_attachments(uow, dispute_id, page))


class AttachmentDownload(Response):
    """Sends the attachment once its stored copy is checked; a copy that fails the check is never sent, the
    request answers 500 ATTACHMENT_CORRUPTED instead. Runs after the request's transaction has ended."""

    def __init__(self, store: ObjectStorage, attachment: Any) -> None:
        super().__init__(media_type=attachment.content_type)
        self.store, self.attachment = store, attachment

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        attachment = self.attachment
        try:
            async with attachments.verified_copy(self.store, attachment) as copy:
                headers = {
                    "content-type": attachment.content_type,
                    "content-length": str(attachment.size),
                    "content-disposition": files.content_disposition(attachment.filename),
                    "x-content-type-options": "nosniff",
                    "cache-control": "no-store",
                    "content-security-policy": "default-src 'none'; sandbox",
                }
                raw = [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]
                await send({"type": "http.response.start", "status": 200, "headers": raw})
                while chunk := copy.read(CHUNK_SIZE):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        except errors.AttachmentCorrupted as error:
            await problem(error.status, error.code, error.title, error.detail)(scope, receive, send)


@router.get(
    "/attachments/{attachment_id}",
    dependencies=[ATTACHMENTS_READ],
    response_class=Response,
    responses={
        200: {
            "description": "The file, as filed (`Content-Disposition: attachment`)",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in files.EXTENSIONS
            },
        },
        500: {
            "description": "The stored file no longer matches what was received. Codes: ATTACHMENT_CORRUPTED.",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        },
        **problems(errors.AttachmentNotFound),
    },
)
async def download_attachment(attachment_id: uuid.UUID, uow: Uow) -> Response:
    """The file, checked against the sha256 recorded when it was filed."""
    attachment = await attachments.get_attachment(uow, attachment_id)
    return AttachmentDownload(attachments.storage(uow), attachment)


router.include_router(storing)


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


@router.get("/reconciliation/remittances", dependencies=[RECONCILE_READ])
async def list_remittances(
    uow: Uow, filters: Annotated[RemittanceFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[RemittanceSummaryRead]:
    """Remittances processed, newest first; `from` and `to` are clinic dates (inclusive) of receipt."""
    rows, cursor = await reconciliation.list_remittances(uow, filters, page)
    return read_page(RemittanceSummaryRead, ([InClinicCurrency(row, uow) for row in rows], cursor))


@router.get(
    "/reconciliation/remittances/{remittance_id}",
    dependencies=[RECONCILE_READ],
    responses=problems(errors.RemittanceNotFound),
)
async def get_remittance(remittance_id: uuid.UUID, uow: Uow) -> RemittanceRead:
    """One remittance as it was posted: its items matched to claims and those left unmatched, with why."""
    remittance = await reconciliation.get_remittance(uow, remittance_id)
    return read_model(RemittanceRead, InClinicCurrency(remittance, uow))
