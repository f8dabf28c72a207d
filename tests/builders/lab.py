"""Builders for the lab: tests of the catalogue, order.* events published as orders would, reads of lab orders."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from caremesh.orders.contract import ORDER_CANCELLED, ORDER_CONFIRMED, ORDER_FAILED, ORDER_PLACED
from caremesh.platform.messaging.envelope import Envelope
from tests.builders.notifications import publish
from tests.harness import every_page

API = "/api/v1"
LAB_TESTS = f"{API}/lab-tests"
LAB_ORDERS = f"{API}/lab-orders"
RESULT = {"values": [{"name": "Haemoglobin", "value": "13.5", "unit": "g/dL", "reference_range": "12-16"}]}
# Real LOINC codes with their check digits: haemoglobin, glucose, a lipid panel.
LOINCS = ("718-7", "2345-7", "57698-3")

_serial = itertools.count(1)


def lab_test_body(**overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    body: dict[str, Any] = {"code": f"LT-{n:04d}", "name": f"Haemoglobin {n}", "price": "350.00", "daily_capacity": 5}
    body.update(overrides)
    return body


async def create_lab_test(env: Any, headers: dict[str, str] | None = None, **overrides: Any) -> Any:
    return await env.client.post(LAB_TESTS, json=lab_test_body(**overrides), headers=headers or env.admin)


async def make_lab_test(env: Any, **overrides: Any) -> dict[str, Any]:
    response = await create_lab_test(env, **overrides)
    assert response.status_code == 201, response.text
    return response.json()


async def get_json(env: Any, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = await env.client.get(path, params=params, headers=headers or env.admin)
    assert response.status_code == 200, response.text
    return response.json()


async def lab_orders(env: Any, headers: dict[str, str] | None = None, **params: Any) -> list[dict[str, Any]]:
    """Every page of GET /lab-orders with these filters."""
    return await every_page(env, LAB_ORDERS, headers, **params)


async def result(env: Any, lab_order_id: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    return await env.client.post(
        f"{LAB_ORDERS}/{lab_order_id}/result", json=body or RESULT, headers=headers or env.admin
    )


# --- order.* events, as the orders context publishes them ---------------------------------------------


def placed(patient_id: Any, *tests: dict[str, Any] | str, order_id: Any = None, type_: str = "lab") -> dict:
    """An order.placed payload for these lab tests (their dicts or ids), in this order."""
    ids = [t if isinstance(t, str) else t["id"] for t in tests]
    return {
        "order_id": str(order_id or uuid.uuid4()),
        "number": "ORD-2030-000001",
        "patient_id": str(patient_id),
        "practitioner_id": str(uuid.uuid4()),
        "type": type_,
        "items": [{"lab_test_id": i} for i in ids],
        "placed_at": "2030-01-07T06:00:00Z",
    }


def _closing(payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    keys = ("order_id", "number", "patient_id", "type")
    return {**{k: payload[k] for k in keys}, **extra}


async def place(env: Any, payload: dict[str, Any], *, drain: bool = True) -> Envelope:
    envelope = await publish(env, ORDER_PLACED, payload)
    if drain:
        await env.drain()
    return envelope


async def confirm(env: Any, payload: dict[str, Any], *, drain: bool = True) -> Envelope:
    extra = {"invoice_id": str(uuid.uuid4()), "confirmed_at": "2030-01-07T06:00:01Z"}
    envelope = await publish(env, ORDER_CONFIRMED, _closing(payload, **extra))
    if drain:
        await env.drain()
    return envelope


async def fail(env: Any, payload: dict[str, Any], *, drain: bool = True) -> Envelope:
    extra = {"failure_reason": "INSUFFICIENT_STOCK", "failed_at": "2030-01-07T06:00:01Z"}
    envelope = await publish(env, ORDER_FAILED, _closing(payload, **extra))
    if drain:
        await env.drain()
    return envelope


async def cancel(env: Any, payload: dict[str, Any], *, drain: bool = True) -> Envelope:
    extra = {"reason": "changed mind", "cancelled_at": "2030-01-07T06:00:01Z"}
    envelope = await publish(env, ORDER_CANCELLED, _closing(payload, **extra))
    if drain:
        await env.drain()
    return envelope


async def booked(env: Any, lab_test_id: str, day: date) -> int:
    """Slots of the test taken on the day, as the counter row holds them."""
    async with env.db.engine.connect() as connection:
        value = await connection.execute(
            text("SELECT booked FROM lab_test_days WHERE lab_test_id = :t AND day = :d"),
            {"t": uuid.UUID(lab_test_id).hex if env.db.dialect == "sqlite" else uuid.UUID(lab_test_id), "d": day},
        )
        return value.scalar() or 0


def today(env: Any) -> date:
    return env.clock.now().date()


def day(env: Any, n: int) -> str:
    return (today(env) + timedelta(days=n)).isoformat()
