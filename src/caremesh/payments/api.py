from __future__ import annotations

from fastapi import APIRouter

from caremesh.platform.api import TransactionalRoute

router = APIRouter(tags=["payments"], route_class=TransactionalRoute)
