from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from caremesh.facilities import contract as facilities
from caremesh.platform.api import IfMatch, TransactionalRoute, Uow, read_page, require, set_etag
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams
from caremesh.platform.uow import UnitOfWork
from caremesh.practitioners import service
from caremesh.practitioners.errors import PractitionerNotFound
from caremesh.practitioners.models import Practitioner
from caremesh.practitioners.schemas import (
    Availability,
    PractitionerCreate,
    PractitionerFilters,
    PractitionerRead,
    PractitionerUpdate,
    SpecialtyRead,
)
from caremesh.scheduling.contract import DEFAULT_DURATION_MINUTES, MAX_DURATION_MINUTES, MIN_DURATION_MINUTES

router = APIRouter(tags=["practitioners"], route_class=TransactionalRoute)


def _read(practitioner: Practitioner, response: Response, uow: UnitOfWork) -> PractitionerRead:
    set_etag(response, practitioner.version)
    return PractitionerRead.model_validate(practitioner, from_attributes=True, context={"today": service.today(uow)})


@router.get("/specialties", dependencies=[require("practitioners:read")])
async def list_specialties(uow: Uow, page: Annotated[PageParams, Depends()]) -> Page[SpecialtyRead]:
    """The catalogue, by name."""
    return read_page(SpecialtyRead, await service.list_specialties(uow, page))


@router.post(
    "/practitioners",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require("practitioners:write")],
    responses=problems(service.DuplicateNpi, facilities.DepartmentNotFound),
)
async def register_practitioner(body: PractitionerCreate, uow: Uow, response: Response) -> PractitionerRead:
    practitioner = await service.register_practitioner(uow, body)
    read = _read(practitioner, response, uow)
    response.headers["Location"] = f"/api/v1/practitioners/{practitioner.id}"
    return read


@router.get("/practitioners", dependencies=[require("practitioners:read")])
async def list_practitioners(
    uow: Uow, filters: Annotated[PractitionerFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[PractitionerRead]:
    listed = await service.list_practitioners(uow, filters, page)
    return read_page(PractitionerRead, listed, context={"today": service.today(uow)})


@router.get(
    "/practitioners/{practitioner_id}",
    dependencies=[require("practitioners:read")],
    responses=problems(PractitionerNotFound),
)
async def get_practitioner(practitioner_id: uuid.UUID, uow: Uow, response: Response) -> PractitionerRead:
    return _read(await service.get_practitioner(uow, practitioner_id), response, uow)


@router.patch(
    "/practitioners/{practitioner_id}",
    dependencies=[require("practitioners:write")],
    responses=problems(PractitionerNotFound, facilities.DepartmentNotFound),
)
async def update_practitioner(
    practitioner_id: uuid.UUID, body: PractitionerUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> PractitionerRead:
    return _read(await service.update_practitioner(uow, practitioner_id, body, if_match), response, uow)


@router.delete(
    "/practitioners/{practitioner_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[require("practitioners:write")],
    responses=problems(PractitionerNotFound, service.PractitionerHasAppointments),
)
async def delete_practitioner(practitioner_id: uuid.UUID, uow: Uow, if_match: IfMatch) -> Response:
    await service.delete_practitioner(uow, practitioner_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/practitioners/{practitioner_id}/availability",
    dependencies=[require("practitioners:read")],
    responses=problems(PractitionerNotFound),
)
async def get_availability(
    practitioner_id: uuid.UUID,
    uow: Uow,
    day: date = Query(alias="date", description="Clinic-local date, YYYY-MM-DD"),
    duration_minutes: int = Query(DEFAULT_DURATION_MINUTES, ge=MIN_DURATION_MINUTES, le=MAX_DURATION_MINUTES),
) -> Availability:
    return await service.get_availability(uow, practitioner_id, day, duration_minutes)
