from __future__ import annotations

from fastapi import APIRouter

from caremesh.platform.api import TransactionalRoute

router = APIRouter(tags=["notifications"], route_class=TransactionalRoute)
