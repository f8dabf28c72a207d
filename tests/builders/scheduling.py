from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, T0, assert_problem, outbox_payloads

__all__ = ["assert_problem", "outbox_payloads"]  # re-exported for the scheduling suites

DAY0 = T0.date()  # Monday 2030-01-07; the test clock starts at 06:00 UTC (clinic timezone UTC)


async def snapshot(env: Any) -> dict[str, Any]:
    """What a refused request must leave as it was."""
    return {
        "appointments": await env.count("appointments"),
        "versions": await env.count("appointments", "version > 1"),
        "practitioners": await env.count("practitioners"),
        "outbox": await env.outbox_types(),
        "audit": await env.count("audit_events"),
    }


def at(hour: int, minute: int = 0, *, days: int = 0) -> str:
    """An RFC 3339 UTC instant on the test's first day (or `days` later)."""
    moment = datetime.combine(DAY0 + timedelta(days=days), time(hour, minute))
    return moment.isoformat() + "Z"


async def travel(env: Any, when: str) -> None:
    """Set the clock to `when` (see `at`) and log the admin in again: access tokens live 15 minutes."""
    env.clock.set(datetime.fromisoformat(when))
    env.admin = await env.login(ADMIN_EMAIL, ADMIN_PASSWORD)


def day(days: int = 0) -> date:
    return DAY0 + timedelta(days=days)


def appointment_body(patient_id: str, practitioner_id: str, start: str | datetime, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient_id": str(patient_id),
        "practitioner_id": str(practitioner_id),
        "start": start.isoformat() if isinstance(start, datetime) else start,
    }
    body.update(overrides)
    return body


async def book(
    env: Any,
    patient_id: str,
    practitioner_id: str,
    start: str | datetime,
    headers: dict[str, str] | None = None,
    **overrides: Any,
) -> Any:
    """POST /appointments and return the raw response."""
    body = appointment_body(patient_id, practitioner_id, start, **overrides)
    return await env.client.post("/api/v1/appointments", json=body, headers=headers or env.admin)


async def make_appointment(
    env: Any,
    *,
    patient_id: str,
    practitioner_id: str,
    start: str | datetime | None = None,
    headers: dict[str, str] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    response = await book(env, patient_id, practitioner_id, start or at(9), headers, **overrides)
    assert response.status_code == 201, response.text
    return response.json()
