"""Use cases of patients. They flush; the entrypoint commits."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, TypeVar

from caremesh.audit import contract as audit
from caremesh.patients.errors import PatientHasAppointments, PatientNotFound
from caremesh.patients.events import PatientDeleted, PatientRegistered, PatientUpdated
from caremesh.patients.models import Patient
from caremesh.patients.schemas import PatientCreate, PatientFilters, PatientUpdate
from caremesh.platform.errors import Forbidden, invalid_field
from caremesh.platform.mapping import from_attributes
from caremesh.platform.messaging.events import IntegrationEvent
from caremesh.platform.pagination import PageParams
from caremesh.platform.repository import Repository
from caremesh.platform.schemas import changes_of
from caremesh.platform.search import matches_every_word
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork
from caremesh.scheduling import contract as scheduling

EventT = TypeVar("EventT", bound=IntegrationEvent)


# A patient-role principal sees only their own record; a deleted patient is gone for everyone.
PATIENTS: Repository[Patient] = audit.repository(
    Patient,
    PatientNotFound,
    entity="patient",
    owner=Patient.id,
    where=[Patient.deleted_at.is_(None)],
    order_by=[Patient.created_at, Patient.id],
    criteria={"q": lambda q: matches_every_word(q, Patient.first_name, Patient.last_name)},
)


def today(uow: UnitOfWork) -> date:
    return clinic_date(uow.now())


def _event(event: type[EventT], patient: Patient, **given: Any) -> EventT:
    """`event` about the patient: every field not `given` is the patient's attribute of the same name."""
    return from_attributes(event, patient, patient_id=patient.id, **given)


def _check_birth_date(uow: UnitOfWork, born: date) -> None:
    if born > today(uow):
        raise invalid_field("date_of_birth", "must not be in the future")


async def register_patient(uow: UnitOfWork, data: PatientCreate) -> Patient:
    if uow.actor and uow.actor.is_patient_only:
        raise Forbidden("Patients cannot register other patients.")
    _check_birth_date(uow, data.date_of_birth)
    now = uow.now()
    patient = Patient(id=uuid.uuid4(), **data.model_dump(), created_at=now, updated_at=now)
    uow.session.add(patient)
    await uow.session.flush()
    uow.publish(_event(PatientRegistered, patient))
    audit.record(uow, "patient.create", "patient", patient.id)
    return patient


async def get_patient(uow: UnitOfWork, patient_id: uuid.UUID) -> Patient:
    return await PATIENTS.get(uow, patient_id)


async def list_patients(uow: UnitOfWork, filters: PatientFilters, page: PageParams) -> tuple[list[Patient], str | None]:
    # Every record a list shows is traceable in that patient's trail (patient.list_read).
    return await PATIENTS.list(uow, filters, page)


async def update_patient(
    uow: UnitOfWork, patient_id: uuid.UUID, data: PatientUpdate, expected_version: int | None
) -> Patient:
    patient = await PATIENTS.load_version(uow, patient_id, expected_version)
    changes = changes_of(data)
    if changes.get("date_of_birth"):
        _check_birth_date(uow, changes["date_of_birth"])
    for field, value in changes.items():
        setattr(patient, field, value)
    if changed := await PATIENTS.updated(uow, patient, changes):
        uow.publish(_event(PatientUpdated, patient, changed_fields=changed))
    return patient


async def delete_patient(uow: UnitOfWork, patient_id: uuid.UUID, expected_version: int | None) -> None:
    patient = await PATIENTS.load_version(uow, patient_id, expected_version)
    if await scheduling.count_open_appointments(uow.session, patient_id=patient.id):
        raise PatientHasAppointments("Cancel or complete the patient's open appointments first.")
    await PATIENTS.soft_delete(uow, patient)
    uow.publish(_event(PatientDeleted, patient))
