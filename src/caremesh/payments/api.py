from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Request, status
from fastapi.responses import JSONResponse

from caremesh.billing import contract as billing
from caremesh.payments import attempts, errors, service
from caremesh.payments.gateway import PaymentGateway, gateway_for
from caremesh.payments.schemas import PaymentCreate, PaymentFilters, PaymentRead, RefundCreate, RefundRead
from caremesh.platform.api import TransactionalRoute, UnitsOfWork, UnitsRoute, Uow, read_model, read_page, require
from caremesh.platform.errors import PROBLEM_JSON
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
        descriptions={**GATEWAY, 402: "Declined: the failed payment is stored."},
    ),
)
async def create_payment(
    key: IdempotencyKeyHeader, body: PaymentCreate, units: UnitsOfWork, gateway: Gateway
) -> JSONResponse:
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


router = APIRouter(tags=["payments"])
router.include_router(creating)
router.include_router(reading)
