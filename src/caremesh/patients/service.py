"""Use cases of patients. They flush; the entrypoint commits."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, select

from caremesh.audit import contract as audit
from caremesh.patients.errors import PatientNotFound
from caremesh.patients.events import PatientDeleted, PatientRegistered, PatientUpdated
from caremesh.patients.models import Patient
from caremesh.patients.schemas import (
    Address,
    InsuranceIdentifiers,
    PatientCreate,
    PatientRead,
    PatientUpdate,
)
from caremesh.platform.errors import Conflict, Forbidden, check_version, invalid_field
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.search import matches_every_word
from caremesh.platform.timeutil import clinic_date, years_between
from caremesh.platform.uow import UnitOfWork
from caremesh.scheduling import contract as scheduling

REQUIRED_ON_PATCH = ("first_name", "last_name", "date_of_birth", "gender")


class PatientHasAppointments(Conflict):
    code, title = "PATIENT_HAS_APPOINTMENTS", "The patient has scheduled or checked-in appointments"


def to_read(patient: Patient, today: date) -> PatientRead:
    insurance = (
        InsuranceIdentifiers(
            bin=patient.insurance_bin, pcn=patient.insurance_pcn, member_id=patient.insurance_member_id
        )
        if patient.insurance_bin
        else None
    )
    return PatientRead(
        id=patient.id,
        first_name=patient.first_name,
        last_name=patient.last_name,
        date_of_birth=patient.date_of_birth,
        gender=patient.gender,
        phone=patient.phone,
        email=patient.email,
        address=Address.model_validate(patient.address) if patient.address else None,
        insurance=insurance,
        age=years_between(patient.date_of_birth, today),
        version=patient.version,
        created_at=patient.created_at,
        updated_at=patient.updated_at,
    )


def today(uow: UnitOfWork) -> date:
    return clinic_date(uow.now())


def _check_birth_date(uow: UnitOfWork, born: date) -> None:
    if born > today(uow):
        raise invalid_field("date_of_birth", "must not be in the future")


def _apply_insurance(patient: Patient, insurance: dict[str, Any] | None) -> None:
    insurance = insurance or {}
    patient.insurance_bin = insurance.get("bin")
    patient.insurance_pcn = insurance.get("pcn")
    patient.insurance_member_id = insurance.get("member_id")


def _contact(patient: Patient) -> dict[str, Any]:
    """The contact fields patient.registered and patient.updated carry."""
    return {
        "patient_id": patient.id,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "email": patient.email,
        "phone": patient.phone,
        "has_insurance": patient.insurance_bin is not None,
    }


async def register_patient(uow: UnitOfWork, data: PatientCreate) -> Patient:
    if uow.actor and uow.actor.is_patient_only:
        raise Forbidden("Patients cannot register other patients.")
    _check_birth_date(uow, data.date_of_birth)
    now = uow.now()
    patient = Patient(
        id=uuid.uuid4(),
        first_name=data.first_name,
        last_name=data.last_name,
        date_of_birth=data.date_of_birth,
        gender=data.gender,
        phone=data.phone,
        email=str(data.email) if data.email else None,
        address=data.address.model_dump() if data.address else None,
        created_at=now,
        updated_at=now,
    )
    _apply_insurance(patient, data.insurance.model_dump() if data.insurance else None)
    uow.session.add(patient)
    await uow.session.flush()
    uow.publish(PatientRegistered(**_contact(patient)))
    audit.record(uow, "patient.create", "patient", patient.id)
    return patient


_LIVE_PATIENT = select(Patient).where(Patient.id == bindparam("patient_id"), Patient.deleted_at.is_(None))
_LIVE_PATIENT_FOR_UPDATE = _LIVE_PATIENT.with_for_update()


async def _load(uow: UnitOfWork, patient_id: uuid.UUID, *, for_update: bool = False) -> Patient:
    actor = uow.actor
    if actor and not actor.may_see_patient(patient_id):
        raise PatientNotFound()
    query = _LIVE_PATIENT_FOR_UPDATE if for_update else _LIVE_PATIENT
    patient = await uow.session.scalar(query, {"patient_id": patient_id})
    if patient is None:
        raise PatientNotFound()
    return patient


async def get_patient(uow: UnitOfWork, patient_id: uuid.UUID) -> Patient:
    patient = await _load(uow, patient_id)
    audit.record(uow, "patient.read", "patient", patient.id)
    return patient


async def list_patients(
    uow: UnitOfWork, *, q: str | None, date_of_birth: date | None, page: PageParams
) -> tuple[list[Patient], str | None]:
    query = select(Patient).where(Patient.deleted_at.is_(None))
    if uow.actor and uow.actor.is_patient_only:
        query = query.where(Patient.id == uow.actor.patient_id)
    query = query.where(matches_every_word(q, Patient.first_name, Patient.last_name))
    if date_of_birth:
        query = query.where(and_(Patient.date_of_birth == date_of_birth))
    rows, cursor = await paginate(uow.session, query, order_by=[Patient.created_at, Patient.id], params=page)
    audit.record(uow, "patient.list", "patient", None)
    for patient in rows:  # every record a list shows is traceable in that patient's trail
        audit.record(uow, "patient.list_read", "patient", patient.id)
    return rows, cursor


async def update_patient(
    uow: UnitOfWork, patient_id: uuid.UUID, data: PatientUpdate, expected_version: int | None
) -> Patient:
    patient = await _load(uow, patient_id, for_update=True)
    check_version(patient.version, expected_version)
    changes = data.model_dump(exclude_unset=True)
    for field in REQUIRED_ON_PATCH:
        if field in changes and changes[field] is None:
            raise invalid_field(field, "cannot be cleared")
    if changes.get("date_of_birth"):
        _check_birth_date(uow, changes["date_of_birth"])
    if "insurance" in changes:
        _apply_insurance(patient, changes.pop("insurance"))
        changes["insurance"] = True
    for field, value in changes.items():
        if field == "insurance":
            continue
        setattr(patient, field, str(value) if field == "email" and value else value)
    if changes:
        patient.updated_at = uow.now()
        await uow.session.flush()
        uow.publish(PatientUpdated(**_contact(patient), changed_fields=tuple(sorted(changes))))
    audit.record(uow, "patient.update", "patient", patient.id)
    return patient


async def delete_patient(uow: UnitOfWork, patient_id: uuid.UUID, expected_version: int | None) -> None:
    patient = await _load(uow, patient_id, for_update=True)
    check_version(patient.version, expected_version)
    if await scheduling.count_open_appointments(uow.session, patient_id=patient.id):
        raise PatientHasAppointments("Cancel or complete the patient's open appointments first.")
    patient.deleted_at = uow.now()
    patient.updated_at = patient.deleted_at
    await uow.session.flush()
    uow.publish(PatientDeleted(patient_id=patient.id))
    audit.record(uow, "patient.delete", "patient", patient.id)
