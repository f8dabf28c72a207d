from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Depends, Query, Response, status

from caremesh.patients import service
from caremesh.patients.schemas import PatientCreate, PatientRead, PatientUpdate
from caremesh.platform.api import IfMatch, TransactionalRoute, Uow, require, set_etag
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams

router = APIRouter(prefix="/patients", tags=["patients"], route_class=TransactionalRoute)


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[require("patients:write")])
async def register_patient(body: PatientCreate, uow: Uow, response: Response) -> PatientRead:
    patient = await service.register_patient(uow, body)
    set_etag(response, patient.version)
    response.headers["Location"] = f"/api/v1/patients/{patient.id}"
    return service.to_read(patient, service.today(uow))


@router.get("", dependencies=[require("patients:read")])
async def list_patients(
    uow: Uow,
    page: PageParams = Depends(),
    q: str | None = Query(None, max_length=100, description="Matches first and last names"),
    date_of_birth: date | None = None,
) -> Page[PatientRead]:
    rows, cursor = await service.list_patients(uow, q=q, date_of_birth=date_of_birth, page=page)
    today = service.today(uow)
    return Page(items=[service.to_read(p, today) for p in rows], next_cursor=cursor)


@router.get("/{patient_id}", dependencies=[require("patients:read")], responses=problems(service.PatientNotFound))
async def get_patient(patient_id: uuid.UUID, uow: Uow, response: Response) -> PatientRead:
    patient = await service.get_patient(uow, patient_id)
    set_etag(response, patient.version)
    return service.to_read(patient, service.today(uow))


@router.patch("/{patient_id}", dependencies=[require("patients:write")], responses=problems(service.PatientNotFound))
async def update_patient(
    patient_id: uuid.UUID, body: PatientUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> PatientRead:
    patient = await service.update_patient(uow, patient_id, body, if_match)
    set_etag(response, patient.version)
    return service.to_read(patient, service.today(uow))


@router.delete(
    "/{patient_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[require("patients:delete")],
    responses=problems(service.PatientNotFound, service.PatientHasAppointments),
)
async def delete_patient(patient_id: uuid.UUID, uow: Uow, if_match: IfMatch) -> Response:
    await service.delete_patient(uow, patient_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
