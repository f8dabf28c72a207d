"""FHIR resources of lab and radiology: ServiceRequest (each test or study ordered: a lab order or an imaging order)
and DiagnosticReport (a lab order's results, an imaging order's report), see framework.py.

Both types span two contexts with a read permission each (`lab_orders:read`, `imaging_orders:read`): the route asks
for `orders:read` (every role that reads either has it), and each search or read then takes only the sources whose
permission the principal has, as the records context does per type (a category they may not read: 403).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest

from caremesh.fhir.errors import BadSearchParameter, ResourceNotFound
from caremesh.fhir.framework import (
    Found,
    NothingMatches,
    ResourceType,
    Search,
    SearchParam,
    caremesh_coding,
    patient_of,
    ref,
    token,
    uuid_identifier,
)
from caremesh.imaging import contract as imaging
from caremesh.lab import contract as lab
from caremesh.platform import permissions
from caremesh.platform.errors import DomainError, Forbidden
from caremesh.platform.uow import UnitOfWork

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"
PATIENT = SearchParam("patient", "reference", "The patient: Patient/<id> or <id>")

Record = lab.LabOrderRecord | imaging.ImagingOrderRecord


@dataclass(frozen=True)
class Source:
    """Where one category of requests and reports comes from."""

    key: str  # its part of our cursors, and its v2-0074 diagnostic service section: LAB or RAD
    permission: str
    read: Callable[[UnitOfWork, uuid.UUID], Awaitable[Any]]
    search: Callable[..., Awaitable[tuple[list[Any], str | None]]]
    not_found: type[DomainError]
    done: str  # the status of a resulted (reported) order: it has a DiagnosticReport


LAB = Source("LAB", "lab_orders:read", lab.read_lab_order, lab.search_lab_orders, lab.LabOrderNotFound, "resulted")
RAD = Source(
    "RAD",
    "imaging_orders:read",
    imaging.read_imaging_order,
    imaging.search_imaging_orders,
    imaging.ImagingOrderNotFound,
    "reported",
)
SOURCES = (LAB, RAD)


def readable(uow: UnitOfWork, sources: Sequence[Source] = SOURCES) -> list[Source]:
    allowed = [s for s in sources if uow.actor is not None and permissions.allows(uow.actor.roles, s.permission)]
    if not allowed:
        raise Forbidden("Your roles do not allow reading lab or imaging orders.")
    return allowed


async def read_from(uow: UnitOfWork, record_id: uuid.UUID, *, reported: bool = False) -> Record:
    """The lab or imaging order with this id the principal may read (`reported`: only once resulted or reported)."""
    for source in readable(uow):
        try:
            record = await source.read(uow, record_id)
        except source.not_found:
            continue
        if reported and record.status != source.done:
            break
        return record
    raise ResourceNotFound(f"{record_id} is not known")


async def search_from(
    uow: UnitOfWork, search: Search, sources: Sequence[Source], *, reported: bool = False
) -> tuple[list[Record], str | None]:
    """One page of the sources' orders in turn (lab, then imaging); our cursor names the source and carries its
    own (`LAB.<cursor>`; `RAD.` is imaging's start)."""
    patient_id = patient_of(search)
    allowed = readable(uow, sources)
    index, inner = 0, None
    if search.cursor is not None:
        key, dot, inner = search.cursor.partition(".")
        keys = [source.key for source in allowed]
        if not dot or key not in keys:
            raise BadSearchParameter("_cursor: not a cursor this server gave; follow the Bundle's next link")
        index, inner = keys.index(key), inner or None
    found: list[Record] = []
    while True:  # a page runs on into the next source while it has room
        source = allowed[index]
        rows, next_inner = await source.search(
            uow,
            patient_id=patient_id,
            status=source.done if reported else None,
            limit=search.count - len(found),
            cursor=inner,
        )
        found += rows
        if next_inner is not None:
            return found, f"{source.key}.{next_inner}"
        index, inner = index + 1, None
        if index == len(allowed):
            return found, None
        if len(found) == search.count:
            return found, f"{allowed[index].key}."


def code_of(record: Record) -> dict[str, Any]:
    """The lab test (LOINC where the catalogue has it, and caremesh's code) or the imaging study (caremesh's)."""
    if isinstance(record, lab.LabOrderRecord):
        test = record.test
        codings = [{"system": LOINC, "code": test.loinc, "display": test.name}] if test.loinc else []
        return {"coding": [*codings, caremesh_coding("lab-test", test.code, test.name)], "text": test.name}
    study = record.study
    return {"coding": [caremesh_coding("imaging-study", study.code, study.name)], "text": study.name}


def is_lab(record: Record) -> bool:
    return isinstance(record, lab.LabOrderRecord)


# --- ServiceRequest ---

REQUEST_STATUS = {"scheduled": "active", "resulted": "completed", "reported": "completed", "cancelled": "revoked"}
REQUEST_CATEGORY = {
    True: {"system": SNOMED, "code": "108252007", "display": "Laboratory procedure"},
    False: {"system": SNOMED, "code": "363679005", "display": "Imaging"},
}


def service_request_resource(record: Record) -> ServiceRequest:
    """A test or study as ordered: the order it belongs to is the requisition, its booked day the occurrence."""
    return ServiceRequest(
        id=str(record.id),
        requisition=uuid_identifier(record.order_id),
        status=REQUEST_STATUS[record.status],
        intent="order",
        category=[{"coding": [REQUEST_CATEGORY[is_lab(record)]]}],
        code=code_of(record),
        subject=ref("Patient", record.patient_id),
        occurrenceDateTime=record.scheduled_date,
        authoredOn=record.created_at,
    )


async def read_service_request(uow: UnitOfWork, record_id: uuid.UUID) -> ServiceRequest:
    return service_request_resource(await read_from(uow, record_id))


async def search_service_requests(uow: UnitOfWork, search: Search) -> Found:
    rows, cursor = await search_from(uow, search, SOURCES)
    return [service_request_resource(row) for row in rows], cursor


SERVICE_REQUEST = ResourceType(
    "ServiceRequest", "orders:read", read_service_request, search_service_requests, params=(PATIENT,)
)


# --- DiagnosticReport ---


def _value(value: str, unit: str | None) -> dict[str, Any]:
    """A number with a unit is a Quantity (the unit as written, which may not be UCUM); anything else a string."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is None or unit is None or not number.is_finite():
        return {"valueString": value if unit is None else f"{value} {unit}"}
    return {"valueQuantity": {"value": number, "unit": unit}}


def _results(record: lab.LabOrderRecord) -> list[Observation]:
    """The values of a lab order's result: contained Observations (they have no identity of their own)."""
    return [
        Observation(
            id=f"result-{n}",
            status="final",
            code={"text": value.name},
            subject=ref("Patient", record.patient_id),
            referenceRange=[{"text": value.reference_range}] if value.reference_range else None,
            **_value(value.value, value.unit),
        )
        for n, value in enumerate(record.results, start=1)
    ]


def diagnostic_report_resource(record: Record) -> DiagnosticReport:
    found: dict[str, Any] = {
        "id": str(record.id),
        "basedOn": [ref("ServiceRequest", record.id)],
        "status": "final",
        "category": [{"coding": [{"system": DIAGNOSTIC_SERVICE, "code": LAB.key if is_lab(record) else RAD.key}]}],
        "code": code_of(record),
        "subject": ref("Patient", record.patient_id),
    }
    if isinstance(record, lab.LabOrderRecord):
        results = _results(record)
        found |= {"issued": record.resulted_at, "contained": results or None}
        found["result"] = [{"reference": f"#{o.id}", "display": o.code.text} for o in results] or None
    else:
        text = f"Findings: {record.findings}\n\nImpression: {record.impression}"
        found |= {
            "issued": record.reported_at,
            "conclusion": record.impression,
            "presentedForm": [
                {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(text.encode()).decode(),
                    "title": "Report",
                }
            ],
        }
    return DiagnosticReport(**found)


async def read_diagnostic_report(uow: UnitOfWork, record_id: uuid.UUID) -> DiagnosticReport:
    return diagnostic_report_resource(await read_from(uow, record_id, reported=True))


def _categories(search: Search) -> list[Source]:
    raw = search.get("category")
    if raw is None:
        return list(SOURCES)
    system, code = token("category", raw)
    matching = [s for s in SOURCES if s.key == code and system in (None, DIAGNOSTIC_SERVICE)]
    if not matching:
        raise NothingMatches
    return matching


async def search_diagnostic_reports(uow: UnitOfWork, search: Search) -> Found:
    rows, cursor = await search_from(uow, search, _categories(search), reported=True)
    resources: list[Resource] = [diagnostic_report_resource(row) for row in rows]
    return resources, cursor


DIAGNOSTIC_REPORT = ResourceType(
    "DiagnosticReport",
    "orders:read",
    read_diagnostic_report,
    search_diagnostic_reports,
    params=(
        PATIENT,
        SearchParam("category", "token", f"[{DIAGNOSTIC_SERVICE}|]LAB (lab results) or RAD (imaging reports)"),
    ),
)

RESOURCES = (SERVICE_REQUEST, DIAGNOSTIC_REPORT)
