from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from caremesh.patients import contract as patients
from caremesh.platform.api import IfMatch, TransactionalRoute, Uow, read_model, read_page, require
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams
from caremesh.practitioners import contract as practitioners
from caremesh.scheduling import service
from caremesh.scheduling.errors import AppointmentNotFound
from caremesh.scheduling.schemas import (
    AppointmentCancel,
    AppointmentComplete,
    AppointmentCreate,
    AppointmentFilters,
    AppointmentRead,
    AppointmentReschedule,
)

router = APIRouter(prefix="/appointments", tags=["scheduling"], route_class=TransactionalRoute)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require("appointments:book")],
    responses=problems(
        patients.PatientNotFound,
        practitioners.PractitionerNotFound,
        service.AppointmentConflict,
        service.PatientDoubleBooked,
    ),
)
async def book_appointment(body: AppointmentCreate, uow: Uow, response: Response) -> AppointmentRead:
    appointment = await service.book_appointment(uow, body)
    response.headers["Location"] = f"/api/v1/appointments/{appointment.id}"
    return read_model(AppointmentRead, appointment, response)


@router.get("", dependencies=[require("appointments:read")])
async def list_appointments(
    uow: Uow, filters: Annotated[AppointmentFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[AppointmentRead]:
    return read_page(AppointmentRead, await service.list_appointments(uow, filters, page))


@router.get("/{appointment_id}", dependencies=[require("appointments:read")], responses=problems(AppointmentNotFound))
async def get_appointment(appointment_id: uuid.UUID, uow: Uow, response: Response) -> AppointmentRead:
    return read_model(AppointmentRead, await service.get_appointment(uow, appointment_id), response)


@router.post(
    "/{appointment_id}/check-in",
    dependencies=[require("appointments:check_in")],
    responses=problems(AppointmentNotFound, service.InvalidStatusTransition),
)
async def check_in(appointment_id: uuid.UUID, uow: Uow, if_match: IfMatch, response: Response) -> AppointmentRead:
    return read_model(AppointmentRead, await service.check_in(uow, appointment_id, if_match), response)


@router.post(
    "/{appointment_id}/complete",
    dependencies=[require("appointments:complete")],
    responses=problems(AppointmentNotFound, service.InvalidStatusTransition),
)
async def complete(
    appointment_id: uuid.UUID,
    uow: Uow,
    if_match: IfMatch,
    response: Response,
    body: AppointmentComplete | None = None,
) -> AppointmentRead:
    appointment = await service.complete(uow, appointment_id, body or AppointmentComplete(), if_match)
    return read_model(AppointmentRead, appointment, response)


@router.post(
    "/{appointment_id}/cancel",
    dependencies=[require("appointments:cancel")],
    responses=problems(AppointmentNotFound, service.InvalidStatusTransition),
)
async def cancel(
    appointment_id: uuid.UUID,
    uow: Uow,
    if_match: IfMatch,
    response: Response,
    body: AppointmentCancel | None = None,
) -> AppointmentRead:
    appointment = await service.cancel(uow, appointment_id, body or AppointmentCancel(), if_match)
    return read_model(AppointmentRead, appointment, response)


@router.post(
    "/{appointment_id}/no-show",
    dependencies=[require("appointments:no_show")],
    responses=problems(AppointmentNotFound, service.InvalidStatusTransition),
)
async def mark_no_show(appointment_id: uuid.UUID, uow: Uow, if_match: IfMatch, response: Response) -> AppointmentRead:
    return read_model(AppointmentRead, await service.mark_no_show(uow, appointment_id, if_match), response)


@router.post(
    "/{appointment_id}/reschedule",
    dependencies=[require("appointments:reschedule")],
    responses=problems(
        AppointmentNotFound,
        practitioners.PractitionerNotFound,
        service.AppointmentConflict,
        service.InvalidStatusTransition,
        service.PatientDoubleBooked,
    ),
)
async def reschedule(
    appointment_id: uuid.UUID, body: AppointmentReschedule, uow: Uow, if_match: IfMatch, response: Response
) -> AppointmentRead:
    return read_model(AppointmentRead, await service.reschedule(uow, appointment_id, body, if_match), response)
