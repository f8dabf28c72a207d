"""Builders for billing: visits that end in an invoice, tariffs, and the figures of API.md's example.

The visit builders move the test clock forward (each visit on a later weekday), so they can be called
several times in one test; they assume the clinic timezone is UTC.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from typing import Any

from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import make_appointment, travel
from tests.harness import T0

INVOICES = "/api/v1/invoices"
TARIFFS = "/api/v1/tariffs"
INSURANCE = {"bin": "610014", "pcn": "ABC123", "member_id": "MEMBER-1"}

_serial = itertools.count(1)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def practice_start(years: int, on: date | None = None) -> str:
    """A practice start date that gives exactly `years` whole years of experience on `on` (default: T0's day)."""
    on = on or T0.date()
    return on.replace(year=on.year - years).isoformat()


def next_working_day(env: Any) -> date:
    """The first Monday-Friday after the test clock's current day."""
    day = env.clock.now().date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


async def complete(env: Any, appointment_id: str, started_at: datetime, ended_at: datetime) -> dict[str, Any]:
    """Move the clock to the end of the visit and POST /appointments/{id}/complete with its times."""
    await travel(env, rfc3339(max(ended_at, env.clock.now())))
    response = await env.client.post(
        f"/api/v1/appointments/{appointment_id}/complete",
        json={"started_at": rfc3339(started_at), "ended_at": rfc3339(ended_at)},
        headers=env.admin,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def completed_visit(
    env: Any,
    *,
    patient: dict[str, Any] | None = None,
    practitioner: dict[str, Any] | None = None,
    start: datetime | None = None,
    minutes: int = 30,
    duration_minutes: int = 30,
) -> dict[str, Any]:
    """Book a visit (default: 10:00 on the next working day), then complete it after `minutes`.
    Returns the completed appointment; nothing is drained."""
    patient = patient or await make_patient(env)
    practitioner = practitioner or await make_practitioner(env)
    start = start or datetime.combine(next_working_day(env), time(10), tzinfo=T0.tzinfo)
    appointment = await make_appointment(
        env,
        patient_id=patient["id"],
        practitioner_id=practitioner["id"],
        start=rfc3339(start),
        duration_minutes=duration_minutes,
    )
    return await complete(env, appointment["id"], start, start + timedelta(minutes=minutes))


async def invoice_of(env: Any, appointment_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The invoice of an appointment, through GET /invoices?appointment_id=."""
    response = await env.client.get(INVOICES, params={"appointment_id": appointment_id}, headers=headers or env.admin)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == 1, items
    return items[0]


async def completed_visit_invoice(
    env: Any,
    *,
    specialty: str = "cardiology",
    experience_years: int = 26,
    insured: bool = True,
    patient: dict[str, Any] | None = None,
    **visit: Any,
) -> dict[str, Any]:
    """A visit completed and drained, so billing has invoiced it; returns the invoice.

    The defaults are API.md's example without prior visits: 1500.00, tax 180.00, total 1680.00,
    insurance 1512.00, patient 168.00."""
    if patient is None:
        patient = await make_patient(env, insurance=INSURANCE) if insured else await make_patient(env)
    practitioner = visit.pop("practitioner", None) or await make_practitioner(
        env, specialty=specialty, practice_start_date=practice_start(experience_years)
    )
    appointment = await completed_visit(env, patient=patient, practitioner=practitioner, **visit)
    await env.drain()
    return await invoice_of(env, appointment["id"])


def tariff_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": f"LAB-{next(_serial):04d}",
        "description": "Complete blood count",
        "kind": "lab",
        "pricing": {"type": "flat", "amount": "350.00"},
    }
    body.update(overrides)
    return body


def bands(*amounts: str, edges: tuple[int, ...] = (19, 30)) -> dict[str, Any]:
    """Experience bands 0-19, 20-30, 31+ (or other `edges`) with these amounts."""
    lows = (0, *(edge + 1 for edge in edges))
    highs = (*edges, None)
    return {
        "type": "experience_bands",
        "bands": [
            {"min_years": lo, "max_years": hi, "amount": a} for lo, hi, a in zip(lows, highs, amounts, strict=True)
        ],
    }


async def make_tariff(env: Any, headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    response = await env.client.post(TARIFFS, json=tariff_body(**overrides), headers=headers or env.admin)
    assert response.status_code == 201, response.text
    return response.json()


async def procedure_tariff(env: Any, code: str = "99213", amount: str = "450.00", **overrides: Any) -> dict[str, Any]:
    """The `procedure` tariff of CPT/HCPCS `code` (flat `amount`), made unless it exists."""
    found = await env.client.get(f"{TARIFFS}/{code}", headers=env.admin)
    if found.status_code == 200:
        return found.json()
    body = {"code": code, "description": f"Procedure {code}", "kind": "procedure"}
    return await make_tariff(env, **{**body, "pricing": {"type": "flat", "amount": amount}, **overrides})


CREDIT_NOTES = "/api/v1/credit-notes"


def free_line(unit_price: str = "250.00", quantity: int = 1, description: str = "Medical certificate") -> dict:
    return {"description": description, "quantity": quantity, "unit_price": unit_price}


async def post_manual_invoice(
    env: Any, patient_id: str, lines: list[dict[str, Any]], *, headers: dict[str, str] | None = None
) -> Any:
    """POST /invoices {patient_id, lines}; the raw response."""
    body = {"patient_id": str(patient_id), "lines": lines}
    return await env.client.post(INVOICES, json=body, headers=headers or env.admin)


async def manual_invoice(env: Any, patient_id: str, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    response = await post_manual_invoice(env, patient_id, lines or [free_line()])
    assert response.status_code == 201, response.text
    return response.json()


async def post_credit_note(
    env: Any,
    invoice_id: str,
    amount: str,
    reason: str = "Billing correction",
    *,
    headers: dict[str, str] | None = None,
    key: str | None = None,
) -> Any:
    """POST /invoices/{id}/credit-notes (with `key` as Idempotency-Key when given); the raw response."""
    headers = dict(headers or env.admin)
    if key is not None:
        headers["Idempotency-Key"] = key
    body = {"amount": amount, "reason": reason}
    return await env.client.post(f"{INVOICES}/{invoice_id}/credit-notes", json=body, headers=headers)


async def make_credit_note(env: Any, invoice_id: str, amount: str, reason: str = "Billing correction") -> dict:
    response = await post_credit_note(env, invoice_id, amount, reason)
    assert response.status_code == 201, response.text
    return response.json()


async def read_invoice(env: Any, invoice_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await env.client.get(f"{INVOICES}/{invoice_id}", headers=headers or env.admin)
    assert response.status_code == 200, response.text
    return response.json()
