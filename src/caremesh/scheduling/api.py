from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Response, status

from caremesh.patients import contract as patients
from caremesh.platform.api import IfMatch, TransactionalRoute, Uow, require, set_etag
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams
from caremesh.platform.timeutil import InDateTime
from caremesh.practitioners import contract as practitioners
from caremesh.scheduling import service
from caremesh.scheduling.domain import Status
from caremesh.scheduling.errors import AppointmentNotFound
from caremesh.scheduling.models import Appointment
from caremesh.scheduling.schemas import (
    AppointmentCancel,
    AppointmentComplete,
    AppointmentCreate,
    AppointmentRead,
    AppointmentReschedule,
)

router = APIRouter(prefix="/appointments", tags=["scheduling"], route_class=TransactionalRoute)


def _respond(appointment: Appointment, response: Response) -> AppointmentRead:
    set_etag(response, appointment.version)
    return AppointmentRead.model_validate(appointment, from_attributes=True)


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
    return _respond(appointment, response)


@router.get("", dependencies=[require("appointments:read")])
async def list_appointments(
    uow: Uow,
    page: PageParams = Depends(),
    patient_id: uuid.UUID | None = None,
    practitioner_id: uuid.UUID | None = None,
    status: Status | None = None,
    start_from: InDateTime | None = Query(None, alias="from", description="Starts at or after (inclusive)"),
    start_to: InDateTime | None = Query(None, alias="to", description="Starts before (exclusive)"),
) -> Page[AppointmentRead]:
    rows, cursor = await service.list_appointments(
        uow,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        status=status,
        start_from=start_from,
        start_to=start_to,
        page=page,
    )
    return Page(items=[AppointmentRead.model_validate(a, from_attributes=True) for a in rows], next_cursor=cursor)


@router.get("/{appointment_id}", dependencies=[require("appointments:read")], responses=problems(AppointmentNotFound))
async def get_appointment(appointment_id: uuid.UUID, uow: Uow, response: Response) -> AppointmentRead:
    return _respond(await service.get_appointment(uow, appointment_id), response)


@router.post(
    "/{appointment_id}/check-in",
    dependencies=[require("appointments:check_in")],
    responses=problems(AppointmentNotFound, service.InvalidStatusTransition),
)
async def check_in(appointment_id: uuid.UUID, uow: Uow, if_match: IfMatch, response: Response) -> AppointmentRead:
    return _respond(await service.check_in(uow, appointment_id, if_match), response)


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
    return _respond(await service.complete(uow, appointment_id, body or AppointmentComplete(), if_match), response)


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
    return _respond(await service.cancel(uow, appointment_id, body or AppointmentCancel(), if_match), response)


@router.post(
    "/{appointment_id}/no-show",
    dependencies=[require("appointments:no_show")],
    responses=problems(AppointmentNotFound, service.InvalidStatusTransition),
)
async def mark_no_show(appointment_id: uuid.UUID, uow: Uow, if_match: IfMatch, response: Response) -> AppointmentRead:
    return _respond(await service.mark_no_show(uow, appointment_id, if_match), response)


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
    return _respond(await service.reschedule(uow, appointment_id, body, if_match), response)
