"""FHIR resources of the administrative record: Patient, Practitioner, Appointment (see framework.py)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner

from caremesh.fhir.framework import (
    Found,
    NothingMatches,
    ResourceType,
    Search,
    SearchParam,
    caremesh_coding,
    caremesh_identifier,
    date_eq,
    ref,
    reference,
    token,
    uuid_identifier,
)
from caremesh.patients import contract as patients
from caremesh.platform.timeutil import clinic_timezone
from caremesh.platform.uow import UnitOfWork
from caremesh.practitioners import contract as practitioners
from caremesh.scheduling import contract as scheduling

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


def telecom(phone: str | None, email: str | None, use: str | None = None) -> list[dict[str, Any]] | None:
    found = [{"system": "phone", "value": phone}] if phone else []
    found += [{"system": "email", "value": email}] if email else []
    return [point | ({"use": use} if use else {}) for point in found] or None


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
            raise NothingMatches
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


# --- Practitioner ---

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"


def practitioner_resource(practitioner: practitioners.PractitionerProfile) -> Practitioner:
    return Practitioner(
        id=str(practitioner.id),
        identifier=[{"use": "official", "system": NPI_SYSTEM, "value": practitioner.npi}],
        active=True,
        name=[{"use": "official", "family": practitioner.last_name, "given": [practitioner.first_name]}],
        telecom=telecom(practitioner.phone, practitioner.email, use="work"),
        qualification=[
            {
                "code": {
                    "coding": [caremesh_coding("specialty", practitioner.specialty, practitioner.specialty_name)],
                    "text": practitioner.specialty_name,
                }
            }
        ],
    )


async def read_practitioner(uow: UnitOfWork, practitioner_id: uuid.UUID) -> Practitioner:
    return practitioner_resource(await practitioners.read_practitioner(uow, practitioner_id))


async def search_practitioners(uow: UnitOfWork, search: Search) -> Found:
    npi = None
    if (identifier := search.get("identifier")) is not None:
        system, npi = token("identifier", identifier)
        if system not in (None, NPI_SYSTEM):
            raise NothingMatches
    rows, cursor = await practitioners.search_practitioners(uow, npi=npi, name=search.get("name"), **search.page())
    return [practitioner_resource(row) for row in rows], cursor


PRACTITIONER = ResourceType(
    "Practitioner",
    "practitioners:read",
    read_practitioner,
    search_practitioners,
    params=(
        SearchParam("identifier", "token", f"The NPI: [{NPI_SYSTEM}|]<10 digits>"),
        SearchParam("name", "string", "Every word appears in the given or family name (case-insensitive)"),
    ),
)


# --- Appointment ---

APPOINTMENT_STATUS = {
    "scheduled": "booked",
    "checked_in": "checked-in",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "no_show": "noshow",
}


def appointment_resource(appointment: scheduling.AppointmentRecord) -> Appointment:
    cancelled = appointment.status == "cancelled" and appointment.cancellation_reason
    return Appointment(
        id=str(appointment.id),
        identifier=[caremesh_identifier("appointment-number", appointment.number)],
        status=APPOINTMENT_STATUS[appointment.status],
        cancelationReason={"text": appointment.cancellation_reason} if cancelled else None,
        specialty=[{"coding": [caremesh_coding("specialty", appointment.specialty)]}],
        description=appointment.reason,
        start=appointment.start_at,
        end=appointment.end_at,
        minutesDuration=appointment.duration_minutes,
        participant=[
            {"actor": ref("Patient", appointment.patient_id), "required": "required", "status": "accepted"},
            {"actor": ref("Practitioner", appointment.practitioner_id), "required": "required", "status": "accepted"},
        ],
    )


async def read_appointment(uow: UnitOfWork, appointment_id: uuid.UUID) -> Appointment:
    return appointment_resource(await scheduling.read_appointment(uow, appointment_id))


async def search_appointments(uow: UnitOfWork, search: Search) -> Found:
    patient = search.get("patient")
    practitioner = search.get("practitioner")
    start_from = start_to = None
    if (raw := search.get("date")) is not None:
        day = date_eq("date", raw)
        start_from = datetime.combine(day, time(0), tzinfo=clinic_timezone())
        start_to = datetime.combine(day + timedelta(days=1), time(0), tzinfo=clinic_timezone())
    rows, cursor = await scheduling.search_appointments(
        uow,
        patient_id=reference("patient", patient, "Patient") if patient else None,
        practitioner_id=reference("practitioner", practitioner, "Practitioner") if practitioner else None,
        start_from=start_from,
        start_to=start_to,
        **search.page(),
    )
    return [appointment_resource(row) for row in rows], cursor


APPOINTMENT = ResourceType(
    "Appointment",
    "appointments:read",
    read_appointment,
    search_appointments,
    params=(
        SearchParam("patient", "reference", "The patient: Patient/<id> or <id>"),
        SearchParam("practitioner", "reference", "The practitioner: Practitioner/<id> or <id>"),
        SearchParam("date", "date", "Starts on this day at the clinic, YYYY-MM-DD (no prefixes but eq)"),
    ),
)

RESOURCES = (PATIENT, PRACTITIONER, APPOINTMENT)
