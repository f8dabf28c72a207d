from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query

from caremesh.audit import service
from caremesh.audit.schemas import AuditEventRead, ChainVerification
from caremesh.platform.api import TransactionalRoute, Uow, require
from caremesh.platform.pagination import Page, PageParams

router = APIRouter(
    prefix="/audit-events", tags=["audit"], route_class=TransactionalRoute, dependencies=[require("audit:read")]
)


@router.get("")
async def list_audit_events(
    uow: Uow,
    page: PageParams = Depends(),
    entity_type: str | None = Query(None, max_length=64),
    entity_id: str | None = Query(None, max_length=64),
    actor_id: uuid.UUID | None = None,
) -> Page[AuditEventRead]:
    """In chain order (`seq`); events not sealed yet come last, with a null `seq`, `prev_hash` and `hash`."""
    rows, cursor = await service.list_events(
        uow, entity_type=entity_type, entity_id=entity_id, actor_id=actor_id, page=page
    )
    return Page(items=[AuditEventRead.model_validate(r, from_attributes=True) for r in rows], next_cursor=cursor)


@router.get("/verify")
async def verify_audit_chain(uow: Uow) -> ChainVerification:
    """Checks every sealed event; `unsealed` counts the events not chained yet."""
    result = await service.verify_chain(uow)
    return ChainVerification(
        valid=result.valid, count=result.count, first_broken_id=result.first_broken_id, unsealed=result.unsealed
    )
