from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from caremesh.pharmacy import service
from caremesh.pharmacy.schemas import (
    MedicationCreate,
    MedicationFilters,
    MedicationRead,
    ReservationFilters,
    ReservationRead,
    Restock,
)
from caremesh.platform.api import API_PREFIX, IfMatch, TransactionalRoute, Uow, read_model, read_page, require
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams

router = APIRouter(tags=["pharmacy"], route_class=TransactionalRoute)


# --- medications ---------------------------------------------------------------------


@router.post(
    "/medications",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require("medications:write")],
    responses=problems(service.MedicationCodeExists),
)
async def create_medication(body: MedicationCreate, uow: Uow, response: Response) -> MedicationRead:
    """Add a medication to the catalogue with its opening stock; 409 MEDICATION_CODE_EXISTS for a taken code."""
    medication = await service.create_medication(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/medications/{medication.id}"
    return read_model(MedicationRead, medication, response)


@router.get("/medications", dependencies=[require("medications:read")])
async def list_medications(
    uow: Uow, filters: Annotated[MedicationFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[MedicationRead]:
    """Medications by name."""
    return read_page(MedicationRead, await service.list_medications(uow, filters, page))


@router.get(
    "/medications/{medication_id}",
    dependencies=[require("medications:read")],
    responses=problems(service.MedicationNotFound),
)
async def get_medication(medication_id: uuid.UUID, uow: Uow, response: Response) -> MedicationRead:
    return read_model(MedicationRead, await service.get_medication(uow, medication_id), response)


@router.post(
    "/medications/{medication_id}/restock",
    dependencies=[require("medications:write")],
    responses=problems(service.MedicationNotFound),
)
async def restock(
    medication_id: uuid.UUID, body: Restock, uow: Uow, if_match: IfMatch, response: Response
) -> MedicationRead:
    """Add to the stock. `If-Match` is optional: restocks add up, so concurrent ones need none."""
    return read_model(MedicationRead, await service.restock(uow, medication_id, body.quantity, if_match), response)


# --- reservations --------------------------------------------------------------------


@router.get("/pharmacy/reservations", dependencies=[require("reservations:read")])
async def list_reservations(
    uow: Uow, filters: Annotated[ReservationFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[ReservationRead]:
    """Reservations, oldest first; an order's in its items' order."""
    return read_page(ReservationRead, await service.list_reservations(uow, filters, page))


@router.get(
    "/pharmacy/reservations/{reservation_id}",
    dependencies=[require("reservations:read")],
    responses=problems(service.ReservationNotFound),
)
async def get_reservation(reservation_id: uuid.UUID, uow: Uow) -> ReservationRead:
    return read_model(ReservationRead, await service.get_reservation(uow, reservation_id))


@router.post(
    "/pharmacy/reservations/{reservation_id}/dispense",
    dependencies=[require("reservations:dispense")],
    responses=problems(service.ReservationNotFound, service.ReservationNotDispensable),
)
async def dispense(reservation_id: uuid.UUID, uow: Uow) -> ReservationRead:
    """Hand the reserved quantity out (it leaves the stock). Only a `reserved` reservation of a confirmed order:
    409 RESERVATION_NOT_DISPENSABLE otherwise, its detail saying why."""
    return read_model(ReservationRead, await service.dispense(uow, reservation_id))
