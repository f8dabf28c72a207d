from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from caremesh.lab import service
from caremesh.lab.schemas import (
    LabOrderFilters,
    LabOrderRead,
    LabResultCreate,
    LabTestCreate,
    LabTestFilters,
    LabTestRead,
    LabTestUpdate,
)
from caremesh.platform.api import API_PREFIX, IfMatch, TransactionalRoute, Uow, read_model, read_page, require
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams

router = APIRouter(tags=["lab"], route_class=TransactionalRoute)


# --- lab tests ------------------------------------------------------------------------------------


@router.post(
    "/lab-tests",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require("lab_tests:write")],
    responses=problems(service.LabTestCodeExists),
)
async def create_lab_test(body: LabTestCreate, uow: Uow, response: Response) -> LabTestRead:
    test = await service.create_lab_test(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/lab-tests/{test.id}"
    return read_model(LabTestRead, test, response)


@router.get("/lab-tests", dependencies=[require("lab_tests:read")])
async def list_lab_tests(
    uow: Uow, filters: Annotated[LabTestFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[LabTestRead]:
    return read_page(LabTestRead, await service.list_lab_tests(uow, filters, page))


@router.get(
    "/lab-tests/{test_id}", dependencies=[require("lab_tests:read")], responses=problems(service.LabTestNotFound)
)
async def get_lab_test(test_id: uuid.UUID, uow: Uow, response: Response) -> LabTestRead:
    return read_model(LabTestRead, await service.get_lab_test(uow, test_id), response)


@router.patch(
    "/lab-tests/{test_id}", dependencies=[require("lab_tests:write")], responses=problems(service.LabTestNotFound)
)
async def update_lab_test(
    test_id: uuid.UUID, body: LabTestUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> LabTestRead:
    return read_model(LabTestRead, await service.update_lab_test(uow, test_id, body, if_match), response)


# --- lab orders -----------------------------------------------------------------------------------


@router.get("/lab-orders", dependencies=[require("lab_orders:read")])
async def list_lab_orders(
    uow: Uow, filters: Annotated[LabOrderFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[LabOrderRead]:
    return read_page(LabOrderRead, await service.list_lab_orders(uow, filters, page))


@router.get(
    "/lab-orders/{lab_order_id}",
    dependencies=[require("lab_orders:read")],
    responses=problems(service.LabOrderNotFound),
)
async def get_lab_order(lab_order_id: uuid.UUID, uow: Uow) -> LabOrderRead:
    return read_model(LabOrderRead, await service.get_lab_order(uow, lab_order_id))


@router.post(
    "/lab-orders/{lab_order_id}/result",
    dependencies=[require("lab_orders:result")],
    responses=problems(service.LabOrderNotFound, service.LabOrderNotResultable),
)
async def record_result(lab_order_id: uuid.UUID, body: LabResultCreate, uow: Uow) -> LabOrderRead:
    """Record a scheduled lab order's results, once, after its order is confirmed. The patient is told
    the results are ready; the values never leave the lab in events or messages."""
    return read_model(LabOrderRead, await service.record_result(uow, lab_order_id, body))
