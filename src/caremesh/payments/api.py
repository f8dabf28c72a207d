from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response, status
from fastapi.responses import JSONResponse

from caremesh.billing import contract as billing
from caremesh.patients import contract as patients
from caremesh.payments import attempts, errors, methods, receipts, service, settlements
from caremesh.payments.gateway import PaymentGateway, gateway_for
from caremesh.payments.schemas import (
    PaymentCreate,
    PaymentFilters,
    PaymentMethodCreate,
    PaymentMethodFilters,
    PaymentMethodRead,
    PaymentRead,
    ReceiptRead,
    RefundCreate,
    RefundFilters,
    RefundRead,
    SettlementRead,
)
from caremesh.platform.api import (
    API_PREFIX,
    CurrentPrincipal,
    TransactionalRoute,
    UnitsOfWork,
    UnitsRoute,
    Uow,
    read_model,
    read_page,
    require,
)
from caremesh.platform.errors import PROBLEM_JSON
from caremesh.platform.idempotency import keys, requests
from caremesh.platform.negotiation import JSON, PDF, alternatives, document, negotiated
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams

# Creating payments and refunds commits twice per request, with the gateway call in between (UnitsRoute);
# reads run in one transaction each.
creating = APIRouter(prefix="/payments", route_class=UnitsRoute)
reading = APIRouter(prefix="/payments", route_class=TransactionalRoute)


def gateway_of(app: FastAPI) -> PaymentGateway:
    """The app's gateway, the one its background job uses too."""
    return gateway_for(app.state.uow_factory, app.state.settings.payments)


def payment_gateway(request: Request) -> PaymentGateway:
    return gateway_of(request.app)


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Required. 1-255 printable ASCII characters, unique per payment or refund you mean to make.",
        ),
    ] = None,
) -> str:
    return service.check_idempotency_key(key)


Gateway = Annotated[PaymentGateway, Depends(payment_gateway)]
IdempotencyKeyHeader = Annotated[str, Depends(idempotency_key)]


# What creating a payment and creating a refund both answer; billing's errors come from its contract.
CREATE_ERRORS = (
    errors.IdempotencyKeyRequired,
    service.IdempotencyKeyInvalid,
    errors.GatewayUnavailableError,
)
GATEWAY = {
    502: "The gateway did not answer (nothing happened) or its answer was lost (settled in the background):"
    " retry with the same key."
}


def _respond(outcome: attempts.Outcome, *, location: bool = False) -> JSONResponse:
    """The stored response, byte for byte the same on every replay but for `Idempotent-Replayed`."""
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    if outcome.status >= 400:
        return JSONResponse(outcome.body, status_code=outcome.status, headers=headers, media_type=PROBLEM_JSON)
    if location:
        headers["Location"] = f"/api/v1/payments/{outcome.body['id']}"
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)


@creating.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentRead,
    dependencies=[require("payments:create")],
    responses=problems(
        *CREATE_ERRORS,
        (402, "PAYMENT_DECLINED"),
        billing.InvoiceNotFound,
        billing.InvoiceNotPayable,
        billing.AmountExceedsBalance,
        errors.PaymentMethodNotFound,
        errors.PaymentMethodMismatch,
        errors.RawCardNumber,
        descriptions={**GATEWAY, 402: "Declined: the failed payment is stored."},
    ),
)
async def create_payment(
    key: IdempotencyKeyHeader, body: PaymentCreate, units: UnitsOfWork, gateway: Gateway
) -> JSONResponse:
    methods.refuse_card_numbers(card_token=body.card_token)  # before the key's fingerprint is taken
    return _respond(await service.create_payment(units.begin, gateway, key, body), location=True)


@creating.post(
    "/{payment_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    response_model=RefundRead,
    dependencies=[require("payments:refund")],
    responses=problems(
        *CREATE_ERRORS,
        errors.RefundDeclined,
        errors.PaymentNotFound,
        errors.PaymentNotRefundable,
        errors.RefundExceedsPayment,
        billing.RefundExceedsAmountPaid,
        descriptions={**GATEWAY, 402: "Declined: nothing was refunded."},
    ),
)
async def create_refund(
    payment_id: uuid.UUID, key: IdempotencyKeyHeader, body: RefundCreate, units: UnitsOfWork, gateway: Gateway
) -> JSONResponse:
    return _respond(await service.create_refund(units.begin, gateway, key, payment_id, body))


@reading.get("", dependencies=[require("payments:read")])
async def list_payments(
    uow: Uow, filters: Annotated[PaymentFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[PaymentRead]:
    return read_page(PaymentRead, await service.list_payments(uow, filters, page))


@reading.get("/{payment_id}", dependencies=[require("payments:read")], responses=problems(errors.PaymentNotFound))
async def get_payment(payment_id: uuid.UUID, uow: Uow) -> PaymentRead:
    return read_model(PaymentRead, await service.get_payment(uow, payment_id))


@reading.get(
    "/{payment_id}/receipt",
    dependencies=[require("payments:read")],
    response_model=ReceiptRead,
    responses={
        **alternatives(PDF, description="The receipt; with `Accept: application/pdf`, printable: one A4 page"),
        **problems(errors.PaymentNotFound, errors.PaymentNotCompleted),
    },
)
async def get_receipt(payment_id: uuid.UUID, uow: Uow, media_type: Annotated[str, negotiated(JSON, PDF)]) -> Any:
    """The receipt of a completed payment (numbered by its reference): the amount, method and date, the invoice and
    its balance before and after this payment, and the balance due now. As JSON, or (`Accept: application/pdf`) as
    a printable one-page A4 PDF."""
    found = await receipts.receipt(uow, payment_id)
    if media_type == PDF:
        content, filename = await receipts.receipt_pdf(uow, found)
        return document(content, PDF, filename)
    return found.read()


# --- refunds --------------------------------------------------------------------------------------------------------

refunds = APIRouter(prefix="/refunds", route_class=TransactionalRoute)


@refunds.get("", dependencies=[require("payments:read")])
async def list_refunds(
    uow: Uow, filters: Annotated[RefundFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[RefundRead]:
    return read_page(RefundRead, await service.list_refunds(uow, filters, page))


@refunds.get("/{refund_id}", dependencies=[require("payments:read")], responses=problems(errors.RefundNotFound))
async def get_refund(refund_id: uuid.UUID, uow: Uow) -> RefundRead:
    return read_model(RefundRead, await service.get_refund(uow, refund_id))


# --- stored payment methods ------------------------------------------------------------------------------------------

# Storing a card asks the gateway about its token, outside any transaction (UnitsRoute); the rest is one transaction.
storing = APIRouter(prefix="/payment-methods", route_class=UnitsRoute)
methods_router = APIRouter(prefix="/payment-methods", route_class=TransactionalRoute)


def optional_idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias=keys.HEADER,
            description=requests.HEADER_DESCRIPTION,
            json_schema_extra={"minLength": 1, "maxLength": keys.MAX_KEY_LENGTH, "pattern": keys.KEY_PATTERN},
        ),
    ] = None,
) -> str | None:
    """Checked as a dependency, as TransactionalRoute's is: an invalid key is 400 before the body's 422."""
    if key is not None and keys.key_problem(key) is not None:
        raise keys.IdempotencyKeyInvalid(
            f"An Idempotency-Key is 1 to {keys.MAX_KEY_LENGTH} printable ASCII characters, not only spaces."
        )
    return key


@storing.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentMethodRead,
    dependencies=[require("payment_methods:write")],
    responses=problems(
        (400, keys.IdempotencyKeyInvalid.code),
        patients.PatientNotFound,
        errors.PaymentMethodAlreadyStored,
        errors.RawCardNumber,
        errors.UnknownCardToken,
        errors.InvalidUpiHandle,
        keys.IdempotencyKeyReused,
        errors.GatewayUnavailableError,
        descriptions={502: "The gateway did not answer: nothing was stored; retry."},
    ),
)
async def store_payment_method(
    request: Request,
    body: PaymentMethodCreate,
    units: UnitsOfWork,
    gateway: Gateway,
    key: Annotated[str | None, Depends(optional_idempotency_key)],
) -> Response:
    # Every refusal of the content comes before a transaction, so a card number is never kept under the key.
    methods.refuse_card_numbers(token=body.token, label=body.label)
    card = await methods.card_of(gateway, body, request.app.state.settings.payments.payment_gateway_timeout_seconds)
    try:
        async with units.begin() as uow:
            if key is not None:  # as every other POST does it (TransactionalRoute), in this one transaction
                await requests.claim(request, uow, key, getattr(request.app.state, "replay_recorder", None))
            method = await methods.store(uow, body, card)
            response = JSONResponse(
                PaymentMethodRead.model_validate(method, from_attributes=True).model_dump(mode="json"),
                status_code=status.HTTP_201_CREATED,
                headers={"Location": f"{API_PREFIX}/payment-methods/{method.id}"},
            )
            if (row := requests.claimed(request)) is not None:
                requests.store(uow, row, response)
            return response
    except requests.Replayed as replayed:
        return replayed.response


@methods_router.get("", dependencies=[require("payment_methods:read")])
async def list_payment_methods(
    uow: Uow, filters: Annotated[PaymentMethodFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[PaymentMethodRead]:
    return read_page(PaymentMethodRead, await methods.list_methods(uow, filters, page))


@methods_router.get(
    "/{method_id}", dependencies=[require("payment_methods:read")], responses=problems(errors.PaymentMethodNotFound)
)
async def get_payment_method(method_id: uuid.UUID, uow: Uow) -> PaymentMethodRead:
    return read_model(PaymentMethodRead, await methods.get(uow, method_id))


@methods_router.delete(
    "/{method_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[require("payment_methods:write")],
    responses=problems(errors.PaymentMethodNotFound),
)
async def delete_payment_method(method_id: uuid.UUID, uow: Uow) -> Response:
    await methods.delete(uow, method_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- daily settlement ------------------------------------------------------------------------------------------------

settlement_router = APIRouter(prefix="/settlements", route_class=TransactionalRoute)


@settlement_router.get("/{day}", dependencies=[require("settlements:read")])
async def get_settlement(day: date, uow: Uow) -> SettlementRead:
    return await settlements.get_settlement(uow, day)


@settlement_router.post(
    "/{day}/close", responses=problems(errors.SettlementDayInFuture), dependencies=[require("settlements:close")]
)
async def close_settlement(day: date, uow: Uow, principal: CurrentPrincipal) -> SettlementRead:
    return await settlements.close_settlement(uow, day, principal.user_id)


router = APIRouter(tags=["payments"])
router.include_router(creating)
router.include_router(reading)
router.include_router(refunds)
router.include_router(storing)
router.include_router(methods_router)
router.include_router(settlement_router)
