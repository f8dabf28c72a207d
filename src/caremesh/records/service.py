"""Use cases of medical records. They flush; the entrypoint commits.

An entry is never overwritten: each version is a row of `medical_record_versions`, written once; `medical_records`
carries the current version (its content, status and number, which If-Match checks). Amending or retracting locks
the entry's row, checks the version, writes the next version and moves the entry to it, all in one transaction.

Who reads which type is a permission per type (domain.READ_PERMISSION); a patient-role principal sees only their own
entries (the repository's owner) and never a retracted one (it may be another patient's, entered on the wrong chart).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, bindparam, select, tuple_

from caremesh.audit import contract as audit
from caremesh.billing import contract as billing
from caremesh.orders import contract as orders
from caremesh.patients import contract as patients
from caremesh.platform import permissions
from caremesh.platform.errors import Forbidden, invalid_field
from caremesh.platform.mapping import from_attributes
from caremesh.platform.pagination import PageParams, decode_cursor, encode_cursor, paginate
from caremesh.platform.repository import Repository
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork
from caremesh.records import domain
from caremesh.records.domain import ClinicalStatus, RecordStatus, RecordType
from caremesh.records.errors import AppointmentOfAnotherPatient, MedicalRecordIsRetracted, MedicalRecordNotFound
from caremesh.records.events import (
    MedicalRecordAmended,
    MedicalRecordChanged,
    MedicalRecordCreated,
    MedicalRecordRetracted,
)
from caremesh.records.models import CONTENT, MedicalRecord, MedicalRecordVersion
from caremesh.records.schemas import MedicalRecordFilters
from caremesh.scheduling import contract as scheduling

RECENT_ENCOUNTERS = 10
CLOCK_SKEW = timedelta(minutes=5)  # a device's clock a little ahead of ours is not a measure from the future
CHART_ALLERGIES = 100
CHART_DIAGNOSES = 100


RECORDS: Repository[MedicalRecord] = audit.repository(
    MedicalRecord,
    MedicalRecordNotFound,
    entity="medical_record",
    owner=MedicalRecord.patient_id,
    order_by=[MedicalRecord.created_at, MedicalRecord.id],
)
NEWEST_FIRST = (MedicalRecord.created_at, MedicalRecord.id)


async def bootstrap(uow: UnitOfWork) -> None:
    """At start-up, off the event loop: the code set is read before the first diagnosis, not during its request
    (whose transaction would wait on it). No statement runs, so no transaction is taken."""
    await asyncio.to_thread(domain.load_code_sets)


# --- who may do what --------------------------------------------------------------------------------------------


def _allows(uow: UnitOfWork, permission: str) -> bool:
    return uow.actor is not None and permissions.allows(uow.actor.roles, permission)


def readable_types(uow: UnitOfWork) -> list[RecordType]:
    return domain.readable_types(lambda permission: _allows(uow, permission))


def _check_read(uow: UnitOfWork, kind: RecordType | str) -> None:
    if not _allows(uow, domain.READ_PERMISSION[RecordType(kind)]):
        raise Forbidden(f"Your roles do not allow reading {RecordType(kind).value} entries.")


def _check_write(uow: UnitOfWork, kind: RecordType | str) -> None:
    if not _allows(uow, domain.WRITE_PERMISSION[RecordType(kind)]):
        raise Forbidden(f"Your roles do not allow writing {RecordType(kind).value} entries.")


def _patient_only(uow: UnitOfWork) -> bool:
    return uow.actor is not None and uow.actor.is_patient_only


def _visible(uow: UnitOfWork, query: Select[Any]) -> Select[Any]:
    """Narrowed to what the principal may see: their own entries for a patient, never a retracted one."""
    if _patient_only(uow):
        query = query.where(MedicalRecord.status != RecordStatus.ENTERED_IN_ERROR)
    return query


# --- content ------------------------------------------------------------------------------------------------------


def _content(uow: UnitOfWork, data: Any) -> dict[str, Any]:
    """The entry's columns from a request body (its type's fields; every other content column null)."""
    given = data.model_dump(exclude={"type", "patient_id", "appointment_id"})
    now = uow.now()
    if given.get("measured_at") and given["measured_at"] > now + CLOCK_SKEW:
        raise invalid_field("measured_at", "must not be in the future")
    if given.get("onset_date") and given["onset_date"] > clinic_date(now):
        raise invalid_field("onset_date", "must not be in the future")
    content = dict.fromkeys(CONTENT)
    content.update({name: value for name, value in given.items() if name in content})
    if data.type == RecordType.DIAGNOSIS:
        diagnosis = domain.icd10cm_diagnosis(data.code)
        if diagnosis is None:
            raise invalid_field(
                "code", f"{data.code!r} is not a billable ICD-10-CM code", code="UNKNOWN_DIAGNOSIS_CODE"
            )
        content["code"] = diagnosis.code
        content["description"] = data.description or diagnosis.description
    return content


async def _check_priced(uow: UnitOfWork, content: dict[str, Any], *, unless: str | None = None) -> None:
    """A procedure is billed by the `procedure` tariff of its code (billing's contract): none is 422 NO_TARIFF.
    `unless`: the code the entry has already (an amendment keeping it is not refused for a tariff gone since)."""
    code = content.get("code")
    if code is None or code == unless:
        return
    if not await billing.has_procedure_tariff(uow.session, code):
        raise invalid_field(
            "code", f"No procedure tariff prices {code}: add one before recording it.", code="NO_TARIFF"
        )


# What a version keeps of its entry besides the content columns.
VERSIONED = (
    "version",
    "patient_id",
    "appointment_id",
    "type",
    "status",
    "author_id",
    "recorded_at",
    "retraction_reason",
)


async def _keep_version(
    uow: UnitOfWork, entry: MedicalRecord, event: type[MedicalRecordChanged], action: str
) -> MedicalRecord:
    """Flush the entry (its version number moves on), write that version to the history, publish `event` and
    record `medical_record.<action>`: the end of every create, amend and retract."""
    await uow.session.flush()
    kept = {name: getattr(entry, name) for name in VERSIONED}
    uow.session.add(MedicalRecordVersion(record_id=entry.id, **kept, **entry.content()))
    await uow.session.flush()
    uow.publish(from_attributes(event, entry, record_id=entry.id))
    audit.record(uow, f"medical_record.{action}", "medical_record", entry.id)
    return entry


async def _check_encounter(uow: UnitOfWork, patient_id: uuid.UUID, appointment_id: uuid.UUID | None) -> None:
    """The patient exists (and stays, under a shared lock, until the entry commits); the appointment is theirs."""
    if await patients.find_patient(uow.session, patient_id, lock=True) is None:
        raise patients.PatientNotFound()
    if appointment_id is None:
        return
    appointment = await scheduling.find_appointment(uow.session, appointment_id)
    if appointment is None:
        raise scheduling.AppointmentNotFound()
    if appointment.patient_id != patient_id:
        raise AppointmentOfAnotherPatient("The appointment belongs to another patient.")


# --- use cases ----------------------------------------------------------------------------------------------------


async def create_record(uow: UnitOfWork, data: Any) -> MedicalRecord:
    kind = RecordType(data.type)
    _check_write(uow, kind)
    if _patient_only(uow):
        raise Forbidden("Patients do not write medical records.")
    content = _content(uow, data)
    if kind == RecordType.PROCEDURE:
        await _check_priced(uow, content)
    await _check_encounter(uow, data.patient_id, data.appointment_id)
    now = uow.now()
    author = uow.actor.user_id if uow.actor else None
    entry = MedicalRecord(
        id=uuid.uuid4(),
        patient_id=data.patient_id,
        appointment_id=data.appointment_id,
        type=kind.value,
        status=RecordStatus.CURRENT.value,
        author_id=author,
        recorded_at=now,
        created_by=author,
        created_at=now,
        **content,
    )
    uow.session.add(entry)
    return await _keep_version(uow, entry, MedicalRecordCreated, "create")


async def _load_visible(uow: UnitOfWork, record_id: uuid.UUID, *, for_update: bool = False) -> MedicalRecord:
    entry = await RECORDS.load(uow, record_id, for_update=for_update)
    if _patient_only(uow) and entry.status == RecordStatus.ENTERED_IN_ERROR:
        raise MedicalRecordNotFound()
    return entry


async def get_record(uow: UnitOfWork, record_id: uuid.UUID) -> MedicalRecord:
    entry = await _load_visible(uow, record_id)
    _check_read(uow, entry.type)
    audit.record(uow, "medical_record.read", "medical_record", entry.id)
    return entry


async def _load_for_change(uow: UnitOfWork, record_id: uuid.UUID, expected_version: int | None) -> MedicalRecord:
    if _patient_only(uow):
        raise Forbidden("Patients do not write medical records.")
    entry = await RECORDS.load_version(uow, record_id, expected_version)
    _check_write(uow, entry.type)
    if entry.status == RecordStatus.ENTERED_IN_ERROR:
        raise MedicalRecordIsRetracted("A retracted entry is not changed; record a new one.")
    return entry


async def amend_record(uow: UnitOfWork, record_id: uuid.UUID, data: Any, expected_version: int | None) -> MedicalRecord:
    """The next version of the entry: the body's content; the earlier versions stay in the history."""
    entry = await _load_for_change(uow, record_id, expected_version)
    if data.type != entry.type:
        raise invalid_field("type", f"must stay {entry.type}: an entry does not change its type")
    content = _content(uow, data)
    if entry.type == RecordType.PROCEDURE:
        await _check_priced(uow, content, unless=entry.code)
    for name, value in content.items():
        setattr(entry, name, value)
    _new_version(uow, entry, RecordStatus.AMENDED)
    return await _keep_version(uow, entry, MedicalRecordAmended, "amend")


async def retract_record(
    uow: UnitOfWork, record_id: uuid.UUID, reason: str, expected_version: int | None
) -> MedicalRecord:
    """Mark the entry entered in error: a last version, its content unchanged, with the reason."""
    entry = await _load_for_change(uow, record_id, expected_version)
    entry.retraction_reason = reason
    entry.retracted_at = uow.now()
    _new_version(uow, entry, RecordStatus.ENTERED_IN_ERROR)
    return await _keep_version(uow, entry, MedicalRecordRetracted, "retract")


def _new_version(uow: UnitOfWork, entry: MedicalRecord, status: RecordStatus) -> None:
    entry.status = status.value
    entry.author_id = uow.actor.user_id if uow.actor else None
    entry.recorded_at = uow.now()  # the version number moves on at flush (the mapper's version counter)


async def history(
    uow: UnitOfWork, record_id: uuid.UUID, page: PageParams
) -> tuple[list[MedicalRecordVersion], str | None]:
    """Every version of the entry, oldest first."""
    entry = await _load_visible(uow, record_id)
    _check_read(uow, entry.type)
    query = select(MedicalRecordVersion).where(MedicalRecordVersion.record_id == entry.id)
    rows, cursor = await paginate(uow.session, query, order_by=[MedicalRecordVersion.version], params=page)
    audit.record(uow, "medical_record.history_read", "medical_record", entry.id)
    return rows, cursor


async def list_records(
    uow: UnitOfWork, filters: MedicalRecordFilters, page: PageParams
) -> tuple[list[MedicalRecord], str | None]:
    """The visible entries matching `filters`, of the types the principal may read, newest first."""
    if filters.type is not None:
        _check_read(uow, filters.type)
        kinds = [filters.type]
    else:
        kinds = readable_types(uow)
        if not kinds:
            raise Forbidden("Your roles do not allow reading medical records.")
    query = _visible(uow, RECORDS.matching(uow, filters)).where(MedicalRecord.type.in_([k.value for k in kinds]))
    rows, cursor = await _newest_first(uow, query, page)
    audit.record(uow, "medical_record.list", "medical_record", None)
    for row in rows:
        audit.record(uow, "medical_record.list_read", "medical_record", row.id)
    return rows, cursor


async def _newest_first(
    uow: UnitOfWork, query: Select[Any], page: PageParams, order_by: Sequence[Any] = NEWEST_FIRST
) -> tuple[list[MedicalRecord], str | None]:
    """One page of `query`, newest first (the platform's pages run oldest first), with the same cursors."""
    if page.cursor:
        values = decode_cursor(page.cursor, order_by)
        bound = [bindparam(None, v, type_=c.type) for v, c in zip(values, order_by, strict=True)]
        query = query.where(tuple_(*order_by) < tuple_(*bound))
    ordered = query.order_by(*(column.desc() for column in order_by)).limit(page.limit + 1)
    rows = list((await uow.session.scalars(ordered)).all())
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor([getattr(rows[-1], column.key) for column in order_by])


# --- the chart ----------------------------------------------------------------------------------------------------


async def chart(uow: UnitOfWork, patient_id: uuid.UUID) -> dict[str, Any]:
    """The patient, their active diagnoses and allergies, their latest vital signs, recent encounters and active
    orders: each entry audited as read, as a list of them would be."""
    if not RECORDS.may_see(uow, patient_id):
        raise patients.PatientNotFound()
    patient = await patients.find_patient(uow.session, patient_id)
    if patient is None:
        raise patients.PatientNotFound()
    for kind in (RecordType.DIAGNOSIS, RecordType.ALLERGY, RecordType.VITAL_SIGNS):
        _check_read(uow, kind)
    live = select(MedicalRecord).where(
        MedicalRecord.patient_id == patient_id, MedicalRecord.status != RecordStatus.ENTERED_IN_ERROR
    )
    newest = (MedicalRecord.created_at.desc(), MedicalRecord.id.desc())
    diagnoses = await uow.session.scalars(
        live.where(MedicalRecord.type == RecordType.DIAGNOSIS, MedicalRecord.clinical_status == ClinicalStatus.ACTIVE)
        .order_by(*newest)
        .limit(CHART_DIAGNOSES)
    )
    allergies = await uow.session.scalars(
        live.where(MedicalRecord.type == RecordType.ALLERGY).order_by(*newest).limit(CHART_ALLERGIES)
    )
    vitals = await uow.session.scalar(
        live.where(MedicalRecord.type == RecordType.VITAL_SIGNS)
        .order_by(MedicalRecord.measured_at.desc(), MedicalRecord.id.desc())
        .limit(1)
    )
    found = {
        "patient": patient,
        "active_diagnoses": list(diagnoses),
        "allergies": list(allergies),
        "latest_vital_signs": vitals,
        "recent_encounters": await scheduling.recent_appointments(uow.session, patient_id, limit=RECENT_ENCOUNTERS),
        "active_orders": await orders.active_orders(uow.session, patient_id),
    }
    audit.record(uow, "patient.chart_read", "patient", patient_id)
    shown = [*found["active_diagnoses"], *found["allergies"], *([vitals] if vitals else [])]
    for entry in shown:
        audit.record(uow, "medical_record.list_read", "medical_record", entry.id)
    return found
