from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response, status

from caremesh.patients import contract as patients
from caremesh.platform import permissions
from caremesh.platform.api import (
    API_PREFIX,
    CurrentPrincipal,
    IfMatch,
    TransactionalRoute,
    Uow,
    read_model,
    read_page,
    require,
)
from caremesh.platform.errors import Forbidden
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams
from caremesh.platform.security import Principal
from caremesh.records import domain, service
from caremesh.records.errors import MedicalRecordNotFound
from caremesh.records.schemas import (
    ActiveOrderRead,
    ChartPatient,
    ChartRead,
    EncounterRead,
    MedicalRecordCreate,
    MedicalRecordFilters,
    MedicalRecordRead,
    MedicalRecordUpdate,
    RetractionCreate,
)
from caremesh.scheduling import contract as scheduling

router = APIRouter(tags=["medical records"], route_class=TransactionalRoute)

VALIDATION = (422, "VALIDATION_ERROR")
UNKNOWN_CODE = (422, "UNKNOWN_DIAGNOSIS_CODE")
NO_TARIFF = (422, "NO_TARIFF")


def require_any(permissions_needed: set[str], described: str) -> Any:
    """Admits principals whose roles grant at least one of the permissions; which type they may then read or
    write is the use case's check (403 too)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not any(permissions.allows(principal.roles, needed) for needed in permissions_needed):
            raise Forbidden(f"Your roles do not allow {described}.")
        return principal

    check.permission = described  # type: ignore[attr-defined]  # the OpenAPI document derives 403 from it
    return Depends(check)


READ_ANY = require_any(set(domain.READ_PERMISSION.values()), "reading medical records")
WRITE_ANY = require_any(set(domain.WRITE_PERMISSION.values()), "writing medical records")


@router.post(
    "/medical-records",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE_ANY],
    responses=problems(
        patients.PatientNotFound,
        scheduling.AppointmentNotFound,
        service.AppointmentOfAnotherPatient,
        UNKNOWN_CODE,
        NO_TARIFF,
    ),
)
async def create_medical_record(
    body: Annotated[MedicalRecordCreate, Body()], uow: Uow, response: Response
) -> MedicalRecordRead:
    """Record an entry of one of five types (`type` chooses the fields). Doctors write every type, nurses vital
    signs, allergies and notes."""
    entry = await service.create_record(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/medical-records/{entry.id}"
    return read_model(MedicalRecordRead, entry, response)


@router.get("/medical-records", dependencies=[READ_ANY])
async def list_medical_records(
    uow: Uow, filters: Annotated[MedicalRecordFilters, Depends()], page: PageParams = Depends()
) -> Page[MedicalRecordRead]:
    """Newest first. Without `type`, the entries of the types your roles may read; with a `type` they may not
    read, 403."""
    return read_page(MedicalRecordRead, await service.list_records(uow, filters, page))


@router.get("/medical-records/{record_id}", dependencies=[READ_ANY], responses=problems(MedicalRecordNotFound))
async def get_medical_record(record_id: uuid.UUID, uow: Uow, response: Response) -> MedicalRecordRead:
    return read_model(MedicalRecordRead, await service.get_record(uow, record_id), response)


@router.put(
    "/medical-records/{record_id}",
    dependencies=[WRITE_ANY],
    responses=problems(MedicalRecordNotFound, service.MedicalRecordIsRetracted, UNKNOWN_CODE, NO_TARIFF),
)
async def amend_medical_record(
    record_id: uuid.UUID, body: Annotated[MedicalRecordUpdate, Body()], uow: Uow, if_match: IfMatch, response: Response
) -> MedicalRecordRead:
    """Amend the entry with the whole content of its type (the type never changes): a new version; the earlier
    ones stay in its history."""
    entry = await service.amend_record(uow, record_id, body, if_match)
    return read_model(MedicalRecordRead, entry, response)


@router.get("/medical-records/{record_id}/history", dependencies=[READ_ANY], responses=problems(MedicalRecordNotFound))
async def medical_record_history(
    record_id: uuid.UUID, uow: Uow, page: PageParams = Depends()
) -> Page[MedicalRecordRead]:
    """Every version of the entry as it was written, oldest first."""
    return read_page(MedicalRecordRead, await service.history(uow, record_id, page))


@router.post(
    "/medical-records/{record_id}/retract",
    dependencies=[WRITE_ANY],
    responses=problems(MedicalRecordNotFound, service.MedicalRecordIsRetracted),
)
async def retract_medical_record(
    record_id: uuid.UUID, body: RetractionCreate, uow: Uow, if_match: IfMatch, response: Response
) -> MedicalRecordRead:
    """Mark the entry `entered_in_error`, with the reason. It stays readable to staff; patients no longer see it."""
    entry = await service.retract_record(uow, record_id, body.reason, if_match)
    return read_model(MedicalRecordRead, entry, response)


@router.get(
    "/patients/{patient_id}/chart",
    dependencies=[require(domain.CHART_PERMISSION)],
    responses=problems(patients.PatientNotFound),
)
async def patient_chart(patient_id: uuid.UUID, uow: Uow) -> ChartRead:
    """The patient's chart: active diagnoses, allergies, the latest vital signs, recent encounters and the orders
    under way. Retracted entries are left out."""
    found = await service.chart(uow, patient_id)
    entry = MedicalRecordRead.model_validate
    return ChartRead(
        patient=ChartPatient.model_validate(found["patient"], from_attributes=True),
        active_diagnoses=[entry(row, from_attributes=True) for row in found["active_diagnoses"]],
        allergies=[entry(row, from_attributes=True) for row in found["allergies"]],
        latest_vital_signs=entry(found["latest_vital_signs"], from_attributes=True)
        if found["latest_vital_signs"]
        else None,
        recent_encounters=[EncounterRead.model_validate(a, from_attributes=True) for a in found["recent_encounters"]],
        active_orders=[ActiveOrderRead.model_validate(o, from_attributes=True) for o in found["active_orders"]],
    )
