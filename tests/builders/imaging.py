"""Builders for radiology: studies of the catalogue, imaging orders placed through the orders API, reads and
reports of imaging orders, and order.placed events as orders publishes them."""

from __future__ import annotations

import itertools
import uuid
from datetime import date
from typing import Any

from sqlalchemy import text

from tests.harness import every_page

API = "/api/v1"
STUDIES = f"{API}/imaging-studies"
IMAGING_ORDERS = f"{API}/imaging-orders"
REPORT = {"findings": "No focal consolidation. Heart size normal.", "impression": "Normal chest radiograph."}

_serial = itertools.count(1)


def study_body(**overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    body: dict[str, Any] = {
        "code": f"IMG-{n:04d}",
        "name": f"Chest X-ray {n}",
        "modality": "XR",
        "price": "1200.00",
        "daily_capacity": 5,
    }
    return {**body, **overrides}


async def create_study(env: Any, headers: dict[str, str] | None = None, **overrides: Any) -> Any:
    return await env.client.post(STUDIES, json=study_body(**overrides), headers=headers or env.admin)


async def make_study(env: Any, **overrides: Any) -> dict[str, Any]:
    response = await create_study(env, **overrides)
    assert response.status_code == 201, response.text
    return response.json()


def imaging_order(patient: dict[str, Any], practitioner: dict[str, Any], *studies: dict[str, Any]) -> dict[str, Any]:
    """The body of POST /orders for these studies."""
    return {
        "patient_id": patient["id"],
        "practitioner_id": practitioner["id"],
        "type": "imaging",
        "items": [{"imaging_study_id": study["id"]} for study in studies],
    }


async def imaging_orders(env: Any, headers: dict[str, str] | None = None, **params: Any) -> list[dict[str, Any]]:
    """Every page of GET /imaging-orders with these filters."""
    return await every_page(env, IMAGING_ORDERS, headers, **params)


async def report(env: Any, imaging_order_id: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    return await env.client.post(
        f"{IMAGING_ORDERS}/{imaging_order_id}/report", json=body or REPORT, headers=headers or env.admin
    )


def placed(patient_id: Any, *studies: dict[str, Any]) -> dict[str, Any]:
    """An order.placed payload for these studies, in this order."""
    return {
        "order_id": str(uuid.uuid4()),
        "number": "ORD-2030-000001",
        "patient_id": str(patient_id),
        "practitioner_id": str(uuid.uuid4()),
        "type": "imaging",
        "items": [{"imaging_study_id": study["id"]} for study in studies],
        "placed_at": "2030-01-07T06:00:00Z",
    }


async def booked(env: Any, study_id: str, day: date) -> int:
    """Slots of the study taken on the day, as the counter row holds them."""
    async with env.db.engine.connect() as connection:
        value = await connection.execute(
            text("SELECT booked FROM imaging_study_days WHERE imaging_study_id = :s AND day = :d"),
            {"s": uuid.UUID(study_id).hex if env.db.dialect == "sqlite" else uuid.UUID(study_id), "d": day},
        )
        return value.scalar() or 0
