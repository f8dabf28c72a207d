"""Bodies of medical record entries, one builder per type, and an encounter to record them in."""

from __future__ import annotations

import re
from typing import Any

from tests.builders.billing import procedure_tariff
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import at, make_appointment

RECORDS = "/api/v1/medical-records"
PROCEDURE_CODE = re.compile(r"[0-9]{5}|[0-9]{4}[FTU]|[A-V][0-9]{4}")
TYPES = ("diagnosis", "allergy", "vital_signs", "note", "procedure")


def diagnosis(**overrides: Any) -> dict[str, Any]:
    return {"type": "diagnosis", "code": "I10", "clinical_status": "active", **overrides}


def allergy(**overrides: Any) -> dict[str, Any]:
    return {"type": "allergy", "substance": "Penicillin", "reaction": "Hives", "severity": "moderate", **overrides}


def vital_signs(**overrides: Any) -> dict[str, Any]:
    body = {
        "type": "vital_signs",
        "measured_at": "2030-01-07T05:30:00Z",  # before the test clock's 06:00
        "heart_rate": 72,
        "systolic_bp": 120,
        "diastolic_bp": 80,
        "temperature_c": 36.8,
        "spo2": 98,
    }
    return {**body, **overrides}


def note(**overrides: Any) -> dict[str, Any]:
    return {"type": "note", "text": "Patient reports mild headache for two days.", **overrides}


def procedure(**overrides: Any) -> dict[str, Any]:
    return {"type": "procedure", "code": "99213", "quantity": 1, **overrides}


BUILDERS = {
    "diagnosis": diagnosis,
    "allergy": allergy,
    "vital_signs": vital_signs,
    "note": note,
    "procedure": procedure,
}


def entry(kind: str, **overrides: Any) -> dict[str, Any]:
    return BUILDERS[kind](**overrides)


async def make_encounter(env: Any, *, start: str | None = None) -> dict[str, Any]:
    """A patient, a practitioner and an appointment of theirs: `{patient, practitioner, appointment}`."""
    patient = await make_patient(env)
    practitioner = await make_practitioner(env)
    appointment = await make_appointment(
        env, patient_id=patient["id"], practitioner_id=practitioner["id"], start=start or at(9)
    )
    return {"patient": patient, "practitioner": practitioner, "appointment": appointment}


async def post_record(
    env: Any,
    patient_id: str,
    body: dict[str, Any],
    *,
    appointment_id: str | None = None,
    headers: Any = None,
    priced: bool = True,
) -> Any:
    """POST the entry; a procedure is `priced` first by a `procedure` tariff of its code (billing refuses one it
    cannot bill: NO_TARIFF) when its code is one a tariff may have."""
    if priced and body.get("type") == "procedure" and PROCEDURE_CODE.fullmatch(str(body.get("code", ""))):
        await procedure_tariff(env, body["code"])
    payload = {"patient_id": str(patient_id), **body}
    if appointment_id is not None:
        payload["appointment_id"] = str(appointment_id)
    return await env.client.post(RECORDS, json=payload, headers=headers or env.admin)


async def make_record(env: Any, patient_id: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = await post_record(env, patient_id, body, **kwargs)
    assert response.status_code == 201, response.text
    return response.json()


async def snapshot(env: Any) -> dict[str, Any]:
    """What a refused request must leave as it was."""
    return {
        "records": await env.count("medical_records"),
        "versions": await env.count("medical_record_versions"),
        "outbox": [t for t in await env.outbox_types() if t.startswith("medical_record.")],
    }


async def record_procedure(
    env: Any, invoice_or_visit: dict[str, Any], code: str = "99213", quantity: int = 1, **kwargs: Any
) -> dict[str, Any]:
    """A procedure of the visit (an appointment, or the invoice of one) recorded through the API, its tariff made
    if missing (tests.builders.billing.procedure_tariff: 450.00 unless made otherwise before)."""
    visit = invoice_or_visit.get("appointment_id") or invoice_or_visit["id"]
    return await make_record(
        env, invoice_or_visit["patient_id"], procedure(code=code, quantity=quantity), appointment_id=visit, **kwargs
    )
