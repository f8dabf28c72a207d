"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import hmac
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from caremesh.platform.errors import Unauthenticated
from caremesh.platform.openapi import problems

router = APIRouter(tags=["operations"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is not ready"}},
)
async def ready(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await request.app.state.db.ping()
        checks["database"] = "ok"
    except Exception as error:  # any failure means not ready
        checks["database"] = f"unavailable: {type(error).__name__}"
    checks["broker"] = await request.app.state.workers.broker_status()
    if (ping := getattr(request.app.state.rate_limiter, "ping", None)) is not None:  # rate limits in Redis
        try:
            await ping()
            checks["redis"] = "ok"
        except Exception as error:  # any failure means not ready
            checks["redis"] = f"unavailable: {type(error).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status_code=200 if healthy else 503
    )


def metrics_reader(request: Request) -> None:
    """With CAREMESH_METRICS_TOKEN set, only `Authorization: Bearer <that token>` may read the metrics."""
    token = request.app.state.settings.http.metrics_token
    if token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if not (scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)):
        raise Unauthenticated("Send `Authorization: Bearer <CAREMESH_METRICS_TOKEN>` to read the metrics.")


@router.get("/metrics", dependencies=[Depends(metrics_reader)], responses=problems(Unauthenticated))
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
