from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from caremesh.facilities import service
from caremesh.facilities.errors import (
    DepartmentCodeTaken,
    DepartmentNotFound,
    FacilityCodeTaken,
    FacilityNotFound,
    PersonnelNotFound,
    PersonnelUserTaken,
    UserNotFound,
)
from caremesh.facilities.schemas import (
    ClinicRead,
    DepartmentCreate,
    DepartmentFilters,
    DepartmentRead,
    FacilityCreate,
    FacilityFilters,
    FacilityRead,
    FacilityUpdate,
    PersonnelCreate,
    PersonnelFilters,
    PersonnelRead,
    PersonnelUpdate,
)
from caremesh.platform.api import (
    API_PREFIX,
    CurrentPrincipal,
    IfMatch,
    TransactionalRoute,
    Uow,
    read_model,
    read_page,
    require,
)
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams

router = APIRouter(tags=["facilities"], route_class=TransactionalRoute)

READ = require("facilities:read")
WRITE = require("facilities:write")
READ_PERSONNEL = require("personnel:read")
WRITE_PERSONNEL = require("personnel:write")


# --- the clinic -------------------------------------------------------------------------------------------------


@router.get("/clinic")
async def clinic(_: CurrentPrincipal, uow: Uow) -> ClinicRead:
    """For any signed-in user (the web app shows every time in the clinic's zone, wherever its computer is)."""
    settings = uow.settings
    return ClinicRead(name=settings.clinic.name, timezone=settings.app.timezone, currency=settings.app.currency)


# --- facilities ---------------------------------------------------------------------------------------------------


@router.post(
    "/facilities", status_code=status.HTTP_201_CREATED, dependencies=[WRITE], responses=problems(FacilityCodeTaken)
)
async def create_facility(body: FacilityCreate, uow: Uow, response: Response) -> FacilityRead:
    facility = await service.create_facility(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/facilities/{facility.id}"
    return read_model(FacilityRead, facility, response)


@router.get("/facilities", dependencies=[READ])
async def list_facilities(
    uow: Uow, filters: Annotated[FacilityFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[FacilityRead]:
    return read_page(FacilityRead, await service.list_facilities(uow, filters, page))


@router.get("/facilities/{facility_id}", dependencies=[READ], responses=problems(FacilityNotFound))
async def get_facility(facility_id: uuid.UUID, uow: Uow, response: Response) -> FacilityRead:
    return read_model(FacilityRead, await service.get_facility(uow, facility_id), response)


@router.patch(
    "/facilities/{facility_id}", dependencies=[WRITE], responses=problems(FacilityNotFound, FacilityCodeTaken)
)
async def update_facility(
    facility_id: uuid.UUID, body: FacilityUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> FacilityRead:
    return read_model(FacilityRead, await service.update_facility(uow, facility_id, body, if_match), response)


# --- departments --------------------------------------------------------------------------------------------------


@router.post(
    "/departments",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE],
    responses=problems(FacilityNotFound, DepartmentCodeTaken),
)
async def create_department(body: DepartmentCreate, uow: Uow, response: Response) -> DepartmentRead:
    department = await service.create_department(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/departments/{department.id}"
    return read_model(DepartmentRead, department)


@router.get("/departments", dependencies=[READ])
async def list_departments(
    uow: Uow, filters: Annotated[DepartmentFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[DepartmentRead]:
    return read_page(DepartmentRead, await service.list_departments(uow, filters, page))


@router.get("/departments/{department_id}", dependencies=[READ], responses=problems(DepartmentNotFound))
async def get_department(department_id: uuid.UUID, uow: Uow) -> DepartmentRead:
    return read_model(DepartmentRead, await service.get_department(uow, department_id))


# --- personnel ----------------------------------------------------------------------------------------------------


@router.post(
    "/personnel",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE_PERSONNEL],
    responses=problems(DepartmentNotFound, UserNotFound, PersonnelUserTaken),
)
async def register_personnel(body: PersonnelCreate, uow: Uow, response: Response) -> PersonnelRead:
    member = await service.register_personnel(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/personnel/{member.id}"
    return read_model(PersonnelRead, member, response)


@router.get("/personnel", dependencies=[READ_PERSONNEL])
async def list_personnel(
    uow: Uow, filters: Annotated[PersonnelFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[PersonnelRead]:
    return read_page(PersonnelRead, await service.list_personnel(uow, filters, page))


@router.get("/personnel/{personnel_id}", dependencies=[READ_PERSONNEL], responses=problems(PersonnelNotFound))
async def get_personnel(personnel_id: uuid.UUID, uow: Uow, response: Response) -> PersonnelRead:
    return read_model(PersonnelRead, await service.get_personnel(uow, personnel_id), response)


@router.patch(
    "/personnel/{personnel_id}",
    dependencies=[WRITE_PERSONNEL],
    responses=problems(PersonnelNotFound, DepartmentNotFound, UserNotFound, PersonnelUserTaken),
)
async def update_personnel(
    personnel_id: uuid.UUID, body: PersonnelUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> PersonnelRead:
    return read_model(PersonnelRead, await service.update_personnel(uow, personnel_id, body, if_match), response)
