"""FHIR resources of the administrative record: Patient, Practitioner, Appointment (see framework.py)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.patient import Patient

from caremesh.fhir.framework import Found, ResourceType, Search, SearchParam, date_eq, token, uuid_identifier
from caremesh.patients import contract as patients
from caremesh.platform.uow import UnitOfWork

UUID_SYSTEM = "urn:ietf:rfc:3986"


def address(value: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    if not value:
        return None
    lines = [line for line in (value.get("line1"), value.get("line2")) if line]
    found = {
        "use": "home",
        "line": lines or None,
        "city": value.get("city"),
        "state": value.get("state"),
        "postalCode": value.get("postal_code"),
        "country": value.get("country"),
    }
    return [{key: item for key, item in found.items() if item is not None}]


def telecom(phone: str | None, email: str | None) -> list[dict[str, Any]] | None:
    found = [{"system": "phone", "value": phone}] if phone else []
    found += [{"system": "email", "value": email}] if email else []
    return found or None


# --- Patient ---


def patient_resource(patient: patients.PatientSummary) -> Patient:
    """caremesh keeps no separate MRN: the patient's id is their identifier (as a URN)."""
    return Patient(
        id=str(patient.id),
        identifier=[{"use": "official", **uuid_identifier(patient.id)}],
        active=True,
        name=[{"use": "official", "family": patient.last_name, "given": [patient.first_name]}],
        gender=patient.gender,  # caremesh's values are FHIR's AdministrativeGender codes
        birthDate=patient.date_of_birth,
        telecom=telecom(patient.phone, patient.email),
        address=address(patient.address),
    )


async def read_patient(uow: UnitOfWork, patient_id: uuid.UUID) -> Patient:
    return patient_resource(await patients.read_patient(uow, patient_id))


def _patient_identifier(value: str) -> uuid.UUID | None:
    system, code = token("identifier", value)
    if system not in (None, UUID_SYSTEM):
        return None
    try:
        return uuid.UUID(code.removeprefix("urn:uuid:"))
    except ValueError:
        return None


async def search_patients(uow: UnitOfWork, search: Search) -> Found:
    patient_id = None
    if (identifier := search.get("identifier")) is not None:
        patient_id = _patient_identifier(identifier)
        if patient_id is None:
            return [], None
    birth_date = date_eq("birthdate", raw) if (raw := search.get("birthdate")) else None
    rows, cursor = await patients.search_patients(
        uow, name=search.get("name"), date_of_birth=birth_date, patient_id=patient_id, **search.page()
    )
    return [patient_resource(row) for row in rows], cursor


PATIENT = ResourceType(
    "Patient",
    "patients:read",
    read_patient,
    search_patients,
    params=(
        SearchParam("name", "string", "Every word appears in the given or family name (case-insensitive)"),
        SearchParam("birthdate", "date", "The day of birth, YYYY-MM-DD (no prefixes but eq)"),
        SearchParam("identifier", "token", f"The patient's id: [{UUID_SYSTEM}|]urn:uuid:<id>"),
    ),
)

RESOURCES = (PATIENT,)
