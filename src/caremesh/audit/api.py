from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from caremesh.audit import service
from caremesh.audit.schemas import AuditEventFilters, AuditEventRead, ChainVerification
from caremesh.platform.api import TransactionalRoute, Uow, read_page, require
from caremesh.platform.pagination import Page, PageParams

router = APIRouter(
    prefix="/audit-events", tags=["audit"], route_class=TransactionalRoute, dependencies=[require("audit:read")]
)


@router.get("")
async def list_audit_events(
    uow: Uow, filters: Annotated[AuditEventFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[AuditEventRead]:
    """In chain order (`seq`); events not sealed yet come last, with a null `seq`, `prev_hash` and `hash`."""
    return read_page(AuditEventRead, await service.list_events(uow, filters, page))


@router.get("/verify")
async def verify_audit_chain(uow: Uow) -> ChainVerification:
    """Checks every sealed event; `unsealed` counts the events not chained yet."""
    result = await service.verify_chain(uow)
    return ChainVerification(
        valid=result.valid, count=result.count, first_broken_id=result.first_broken_id, unsealed=result.unsealed
    )
