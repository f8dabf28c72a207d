"""Bodies of facilities, departments and personnel, and builders that create them through the API."""

from __future__ import annotations

import itertools
import random
import uuid
from typing import Any

from tests.harness import USER_PASSWORD

FACILITIES = "/api/v1/facilities"
DEPARTMENTS = "/api/v1/departments"
PERSONNEL = "/api/v1/personnel"
KINDS = (
    "nurse",
    "pharmacist",
    "lab_technician",
    "radiologist",
    "receptionist",
    "billing_clerk",
    "administrator",
    "other",
)

_serial = itertools.count(random.randrange(1_000, 9_000))


def address(**overrides: Any) -> dict[str, Any]:
    body = {"line1": "4 MG Road", "city": "Chennai", "state": "TN", "postal_code": "600001", "country": "IN"}
    return {**body, **overrides}


def facility_body(**overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    body = {"code": f"F{n}", "name": f"City Hospital {n}", "address": address(), "timezone": "Asia/Kolkata"}
    return {**body, **overrides}


def department_body(facility_id: str, **overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    return {"facility_id": str(facility_id), "code": f"D{n}", "name": f"Cardiology {n}", **overrides}


def personnel_body(**overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    body = {"first_name": "Anita", "last_name": f"Rao{n}", "kind": "nurse", "license_number": f"RN-{n}"}
    return {**body, **overrides}


async def _created(env: Any, path: str, body: dict[str, Any], headers: dict[str, str] | None) -> dict[str, Any]:
    response = await env.client.post(path, json=body, headers=headers or env.admin)
    assert response.status_code == 201, response.text
    return response.json()


async def make_facility(env: Any, headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    return await _created(env, FACILITIES, facility_body(**overrides), headers)


async def make_department(
    env: Any, facility_id: str | None = None, headers: dict[str, str] | None = None, **overrides: Any
) -> dict[str, Any]:
    facility_id = facility_id or (await make_facility(env))["id"]
    return await _created(env, DEPARTMENTS, department_body(facility_id, **overrides), headers)


async def make_personnel(env: Any, headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    return await _created(env, PERSONNEL, personnel_body(**overrides), headers)


async def make_user_id(env: Any) -> str:
    """The id of a new staff user account (a personnel member may be linked to it)."""
    body = {
        "email": f"staff-{uuid.uuid4().hex[:10]}@example.org",
        "password": USER_PASSWORD,
        "full_name": "Staff Member",
        "roles": ["nurse"],
    }
    response = await env.client.post("/api/v1/users", json=body, headers=env.admin)
    assert response.status_code == 201, response.text
    return response.json()["id"]
