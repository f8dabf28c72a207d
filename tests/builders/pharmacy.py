"""Builders for pharmacy: medications through the API, and the orders saga's events as orders publishes them
(through the outbox; `env.drain()` delivers them to pharmacy)."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from caremesh.pharmacy.handlers import SUBSCRIPTIONS
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.envelope import Envelope
from tests.builders.patients import make_patient
from tests.harness import T0, assert_problem, every_page, outbox_payloads

__all__ = ["assert_problem", "outbox_payloads"]

API = "/api/v1"
MEDICATIONS = f"{API}/medications"
RESERVATIONS = f"{API}/pharmacy/reservations"
AT = T0.isoformat().replace("+00:00", "Z")

_serial = itertools.count(1)


# --- medications ---------------------------------------------------------------------


def medication_body(**overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    body: dict[str, Any] = {
        "code": f"MED-{n:05d}",
        "name": f"Amoxicillin {n} 500 mg",
        "unit": "capsule",
        "unit_price": "12.50",
        "stock_quantity": 10,
    }
    body.update(overrides)
    return body


async def create(env: Any, headers: dict[str, str] | None = None, **overrides: Any) -> Any:
    return await env.client.post(MEDICATIONS, json=medication_body(**overrides), headers=headers or env.admin)


async def make_medication(env: Any, stock: int = 10, **overrides: Any) -> dict[str, Any]:
    response = await create(env, stock_quantity=stock, **overrides)
    assert response.status_code == 201, response.text
    return response.json()


async def medication(env: Any, medication_id: str) -> dict[str, Any]:
    response = await env.client.get(f"{MEDICATIONS}/{medication_id}", headers=env.admin)
    assert response.status_code == 200, response.text
    return response.json()


async def quantities(env: Any, medication_id: str) -> tuple[int, int, int]:
    """(stock, reserved, available)."""
    m = await medication(env, medication_id)
    return m["stock_quantity"], m["reserved_quantity"], m["available_quantity"]


async def restock(env: Any, medication_id: str, quantity: int, headers: dict[str, str] | None = None) -> Any:
    return await env.client.post(
        f"{MEDICATIONS}/{medication_id}/restock", json={"quantity": quantity}, headers=headers or env.admin
    )


async def patient_user(env: Any) -> dict[str, str]:
    """Headers of a patient-role user (with their own patient record)."""
    return await env.user(["patient"], patient_id=(await make_patient(env))["id"])


# --- reservations --------------------------------------------------------------------


async def reservations(env: Any, headers: dict[str, str] | None = None, **params: Any) -> list[dict[str, Any]]:
    """Every page of GET /pharmacy/reservations with these filters."""
    return await every_page(env, RESERVATIONS, headers, **params)


async def of_order(env: Any, order: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(medication_id, quantity, status) of the order's reservations, in item order."""
    return [
        (r["medication_id"], r["quantity"], r["status"]) for r in await reservations(env, order_id=order["order_id"])
    ]


async def dispense(env: Any, reservation_id: str, headers: dict[str, str] | None = None) -> Any:
    return await env.client.post(f"{RESERVATIONS}/{reservation_id}/dispense", headers=headers or env.admin)


# --- the orders saga's events -------------------------------------------------------


def order_placed(*items: tuple[dict[str, Any] | str, int], type: str = "prescription", **overrides: Any) -> dict:
    """An order.placed payload (orders/events.py) for these (medication or its id, quantity) items."""
    payload: dict[str, Any] = {
        "order_id": str(uuid.uuid4()),
        "number": f"ORD-2030-{next(_serial):06d}",
        "patient_id": str(uuid.uuid4()),
        "practitioner_id": str(uuid.uuid4()),
        "type": type,
        "items": [
            {"medication_id": m["id"] if isinstance(m, dict) else str(m), "quantity": q, "dosage": None}
            for m, q in items
        ],
        "placed_at": AT,
    }
    if type == "lab":
        payload["items"] = [{"lab_test_id": str(uuid.uuid4())}]
    payload.update(overrides)
    return payload


def _follow_up(order: dict[str, Any], **extra: Any) -> dict[str, Any]:
    keys = ("order_id", "number", "patient_id", "type")
    return {**{k: order[k] for k in keys}, **extra}


def order_confirmed(order: dict[str, Any]) -> dict[str, Any]:
    return _follow_up(order, invoice_id=str(uuid.uuid4()), confirmed_at=AT)


def order_failed(order: dict[str, Any], failure_reason: str = "BILLING_FAILED") -> dict[str, Any]:
    return _follow_up(order, failure_reason=failure_reason, failed_at=AT)


def order_cancelled(order: dict[str, Any], reason: str | None = "changed the prescription") -> dict[str, Any]:
    return _follow_up(order, reason=reason, cancelled_at=AT)


async def publish(env: Any, event_type: str, payload: dict[str, Any]) -> Envelope:
    """Publish an event as orders would (through the outbox); `env.drain()` delivers it."""
    async with env.uow() as uow:
        return uow.publish_payload(event_type, payload)


async def place(env: Any, *items: tuple[dict[str, Any] | str, int], **overrides: Any) -> dict[str, Any]:
    """Publish order.placed for these items and let pharmacy handle it; returns the payload."""
    payload = order_placed(*items, **overrides)
    await publish(env, "order.placed", payload)
    await env.drain()
    return payload


async def confirm(env: Any, order: dict[str, Any]) -> None:
    await publish(env, "order.confirmed", order_confirmed(order))
    await env.drain()


def subscription(event_type: str) -> Subscription:
    """Pharmacy's subscription to an event, to run its handler directly (`handle_once`)."""
    [found] = [s for s in SUBSCRIPTIONS if s.event_type == event_type]
    return found
