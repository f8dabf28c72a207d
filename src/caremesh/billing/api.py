from __future__ import annotations

from fastapi import APIRouter

from caremesh.platform.api import TransactionalRoute

router = APIRouter(tags=["billing"], route_class=TransactionalRoute)
