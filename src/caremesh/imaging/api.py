from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from caremesh.imaging import service
from caremesh.imaging.schemas import (
    ImagingOrderFilters,
    ImagingOrderRead,
    ImagingReportCreate,
    ImagingStudyCreate,
    ImagingStudyFilters,
    ImagingStudyRead,
)
from caremesh.platform.api import API_PREFIX, TransactionalRoute, Uow, read_model, read_page, require
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams

router = APIRouter(tags=["imaging"], route_class=TransactionalRoute)


# --- imaging studies --------------------------------------------------------------------------------


@router.post(
    "/imaging-studies",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require("imaging_studies:write")],
    responses=problems(service.ImagingStudyCodeExists),
)
async def create_imaging_study(body: ImagingStudyCreate, uow: Uow, response: Response) -> ImagingStudyRead:
    study = await service.create_imaging_study(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/imaging-studies/{study.id}"
    return read_model(ImagingStudyRead, study, response)


@router.get("/imaging-studies", dependencies=[require("imaging_studies:read")])
async def list_imaging_studies(
    uow: Uow, filters: Annotated[ImagingStudyFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[ImagingStudyRead]:
    return read_page(ImagingStudyRead, await service.list_imaging_studies(uow, filters, page))


@router.get(
    "/imaging-studies/{study_id}",
    dependencies=[require("imaging_studies:read")],
    responses=problems(service.ImagingStudyNotFound),
)
async def get_imaging_study(study_id: uuid.UUID, uow: Uow, response: Response) -> ImagingStudyRead:
    return read_model(ImagingStudyRead, await service.get_imaging_study(uow, study_id), response)


# --- imaging orders -----------------------------------------------------------------------------------


@router.get("/imaging-orders", dependencies=[require("imaging_orders:read")])
async def list_imaging_orders(
    uow: Uow, filters: Annotated[ImagingOrderFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[ImagingOrderRead]:
    return read_page(ImagingOrderRead, await service.list_imaging_orders(uow, filters, page))


@router.get(
    "/imaging-orders/{imaging_order_id}",
    dependencies=[require("imaging_orders:read")],
    responses=problems(service.ImagingOrderNotFound),
)
async def get_imaging_order(imaging_order_id: uuid.UUID, uow: Uow) -> ImagingOrderRead:
    return read_model(ImagingOrderRead, await service.get_imaging_order(uow, imaging_order_id))


@router.post(
    "/imaging-orders/{imaging_order_id}/report",
    dependencies=[require("imaging_orders:report")],
    responses=problems(service.ImagingOrderNotFound, service.ImagingOrderNotReportable),
)
async def report(imaging_order_id: uuid.UUID, body: ImagingReportCreate, uow: Uow) -> ImagingOrderRead:
    """Report a scheduled imaging order, once, after its order is confirmed. The patient is told the report is
    ready; the report never leaves imaging in events or messages."""
    return read_model(ImagingOrderRead, await service.report(uow, imaging_order_id, body))
