from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from caremesh.patients import service
from caremesh.patients.errors import PatientNotFound
from caremesh.patients.models import Patient
from caremesh.patients.schemas import PatientCreate, PatientFilters, PatientRead, PatientUpdate
from caremesh.platform.api import IfMatch, TransactionalRoute, Uow, read_page, require, set_etag
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams
from caremesh.platform.uow import UnitOfWork

router = APIRouter(prefix="/patients", tags=["patients"], route_class=TransactionalRoute)


def _read(patient: Patient, response: Response, uow: UnitOfWork) -> PatientRead:
    set_etag(response, patient.version)
    return PatientRead.model_validate(patient, from_attributes=True, context={"today": service.today(uow)})


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[require("patients:write")])
async def register_patient(body: PatientCreate, uow: Uow, response: Response) -> PatientRead:
    patient = await service.register_patient(uow, body)
    read = _read(patient, response, uow)
    response.headers["Location"] = f"/api/v1/patients/{patient.id}"
    return read


@router.get("", dependencies=[require("patients:read")])
async def list_patients(
    uow: Uow, filters: Annotated[PatientFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[PatientRead]:
    listed = await service.list_patients(uow, filters, page)
    return read_page(PatientRead, listed, context={"today": service.today(uow)})


@router.get("/{patient_id}", dependencies=[require("patients:read")], responses=problems(PatientNotFound))
async def get_patient(patient_id: uuid.UUID, uow: Uow, response: Response) -> PatientRead:
    return _read(await service.get_patient(uow, patient_id), response, uow)


@router.patch("/{patient_id}", dependencies=[require("patients:write")], responses=problems(PatientNotFound))
async def update_patient(
    patient_id: uuid.UUID, body: PatientUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> PatientRead:
    return _read(await service.update_patient(uow, patient_id, body, if_match), response, uow)


@router.delete(
    "/{patient_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[require("patients:delete")],
    responses=problems(PatientNotFound, service.PatientHasAppointments),
)
async def delete_patient(patient_id: uuid.UUID, uow: Uow, if_match: IfMatch) -> Response:
    await service.delete_patient(uow, patient_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
