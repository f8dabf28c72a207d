from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from caremesh.imaging import contract as imaging
from caremesh.lab import contract as lab
from caremesh.orders import service
from caremesh.orders.errors import OrderNotFound
from caremesh.orders.schemas import OrderCancel, OrderCreate, OrderEventRead, OrderFilters, OrderRead
from caremesh.patients import contract as patients
from caremesh.pharmacy import contract as pharmacy
from caremesh.platform.api import API_PREFIX, IfMatch, TransactionalRoute, Uow, read_model, read_page, require
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams
from caremesh.practitioners import contract as practitioners

router = APIRouter(prefix="/orders", tags=["orders"], route_class=TransactionalRoute)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[require("orders:create")],
    responses=problems(
        lab.LabTestNotFound,
        imaging.ImagingStudyNotFound,
        pharmacy.MedicationNotFound,
        patients.PatientNotFound,
        practitioners.PractitionerNotFound,
    ),
)
async def place_order(body: OrderCreate, uow: Uow, response: Response) -> OrderRead:
    """Accept an order (`pending`); pharmacy, lab or imaging, then billing, take it on asynchronously.
    Follow it with `GET /orders/{id}` or its steps with `GET /orders/{id}/events`."""
    order = await service.place_order(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/orders/{order.id}"
    return read_model(OrderRead, order, response)


@router.get("", dependencies=[require("orders:read")])
async def list_orders(
    uow: Uow, filters: Annotated[OrderFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[OrderRead]:
    return read_page(OrderRead, await service.list_orders(uow, filters, page))


@router.get("/{order_id}", dependencies=[require("orders:read")], responses=problems(OrderNotFound))
async def get_order(order_id: uuid.UUID, uow: Uow, response: Response) -> OrderRead:
    return read_model(OrderRead, await service.get_order(uow, order_id), response)


@router.get("/{order_id}/events", dependencies=[require("orders:read")], responses=problems(OrderNotFound))
async def list_order_events(order_id: uuid.UUID, uow: Uow, page: PageParams = Depends()) -> Page[OrderEventRead]:
    """The saga's steps and compensations, oldest first."""
    rows, cursor = await service.list_order_events(uow, order_id, page)
    return Page(items=[OrderEventRead.model_validate(e, from_attributes=True) for e in rows], next_cursor=cursor)


@router.post(
    "/{order_id}/cancel",
    dependencies=[require("orders:cancel")],
    responses=problems(OrderNotFound, service.OrderNotCancellable, (409, "INVOICE_HAS_PAYMENTS")),
)
async def cancel_order(
    order_id: uuid.UUID, uow: Uow, if_match: IfMatch, response: Response, body: OrderCancel | None = None
) -> OrderRead:
    """Cancel a pending or confirmed order: its invoice is voided now, its reservations and lab bookings are
    given back right after."""
    reason = body.reason if body else None
    return read_model(OrderRead, await service.cancel_order(uow, order_id, reason, if_match), response)
