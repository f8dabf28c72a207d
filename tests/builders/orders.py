"""Builders for clinical orders: stocked medications, lab tests, and orders placed through the API."""

from __future__ import annotations

import itertools
from typing import Any

from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.harness import every_page

API = "/api/v1"
ORDERS = f"{API}/orders"
MEDICATIONS = f"{API}/medications"
LAB_TESTS = f"{API}/lab-tests"
RESERVATIONS = f"{API}/pharmacy/reservations"
LAB_ORDERS = f"{API}/lab-orders"
INSURED = {"insurance": {"bin": "610014", "pcn": "ABC123", "member_id": "MEMBER-1"}}

_serial = itertools.count(1)


async def _created(env: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await env.client.post(path, json=body, headers=env.admin)
    assert response.status_code == 201, response.text
    return response.json()


async def stock_medication(env: Any, stock: int = 10, unit_price: str = "25.00", **overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    body = {"code": f"MED-{n:04d}", "name": f"Amoxicillin {n}", "unit": "capsule", "unit_price": unit_price}
    return await _created(env, MEDICATIONS, {**body, "stock_quantity": stock, **overrides})


async def make_lab_test(env: Any, price: str = "350.00", daily_capacity: int = 5, **overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    body = {"code": f"LAB-{n:04d}", "name": f"Complete blood count {n}", "price": price}
    return await _created(env, LAB_TESTS, {**body, "daily_capacity": daily_capacity, **overrides})


async def parties(env: Any, **patient: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A patient (with these overrides) and a practitioner to order for them."""
    return await make_patient(env, **patient), await make_practitioner(env)


def prescription(patient: dict[str, Any], practitioner: dict[str, Any], *items: tuple[dict[str, Any], int]) -> dict:
    return {
        "patient_id": patient["id"],
        "practitioner_id": practitioner["id"],
        "type": "prescription",
        "items": [{"medication_id": medication["id"], "quantity": quantity} for medication, quantity in items],
    }


def lab_order(patient: dict[str, Any], practitioner: dict[str, Any], *tests: dict[str, Any]) -> dict[str, Any]:
    return {
        "patient_id": patient["id"],
        "practitioner_id": practitioner["id"],
        "type": "lab",
        "items": [{"lab_test_id": test["id"]} for test in tests],
    }


async def place(env: Any, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return await env.client.post(ORDERS, json=body, headers=headers or env.admin)


async def place_order(env: Any, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await place(env, body, headers)
    assert response.status_code == 202, response.text
    return response.json()


async def read(env: Any, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = await env.client.get(path, params=params, headers=headers or env.admin)
    assert response.status_code == 200, response.text
    return response.json()


async def order(env: Any, order_id: str) -> dict[str, Any]:
    return await read(env, f"{ORDERS}/{order_id}")


async def steps(env: Any, order_id: str) -> list[str]:
    """The order's saga steps and compensations, by name, oldest first."""
    return [event["step"] for event in (await read(env, f"{ORDERS}/{order_id}/events", limit=200))["items"]]


async def medication(env: Any, medication_id: str) -> dict[str, Any]:
    return await read(env, f"{MEDICATIONS}/{medication_id}")


async def reservations(env: Any, order_id: str) -> list[dict[str, Any]]:
    return await every_page(env, RESERVATIONS, order_id=order_id)


async def lab_orders(env: Any, order_id: str) -> list[dict[str, Any]]:
    return await every_page(env, LAB_ORDERS, order_id=order_id)


async def invoices_of(env: Any, order_id: str) -> list[dict[str, Any]]:
    return await every_page(env, f"{API}/invoices", order_id=order_id)


async def cancel(env: Any, order_id: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
    return await env.client.post(f"{ORDERS}/{order_id}/cancel", json=body or None, headers=headers or env.admin)
