"""FHIR resources of insurance and billing: Coverage, Claim, Invoice (see framework.py)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.invoice import Invoice
from fhir.resources.R4B.organization import Organization

from caremesh.billing import contract as billing
from caremesh.claims import contract as claims
from caremesh.fhir.framework import (
    Found,
    ResourceType,
    Search,
    SearchParam,
    caremesh_coding,
    caremesh_identifier,
    money,
    ref,
    reference,
)
from caremesh.insurance import contract as insurance
from caremesh.platform.settings import ClinicSettings
from caremesh.platform.uow import UnitOfWork
from caremesh.records import contract as records

ICD_10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
_PATIENT = SearchParam("patient", "reference", "The patient: Patient/<id> or <id>")


def _patient_id(search: Search, name: str = "patient") -> uuid.UUID | None:
    raw = search.get(name)
    return None if raw is None else reference(name, raw, "Patient")


def _payer_identifier(code: str) -> dict[str, Any]:
    return caremesh_identifier("payer-code", code)


# --- Coverage ---

COVERAGE_STATUS = {"active": "active", "inactive": "cancelled"}


def coverage_resource(record: insurance.CoverageRecord) -> Coverage:
    """The payer is a contained Organization (caremesh serves no Organization resource)."""
    coverage, payer = record.coverage, record.payer
    return Coverage(
        id=str(coverage.id),
        contained=[Organization(id="payer", name=payer.name, identifier=[_payer_identifier(payer.code)])],
        status=COVERAGE_STATUS[coverage.status],
        subscriberId=coverage.member_id,
        beneficiary=ref("Patient", coverage.patient_id),
        period={"start": coverage.valid_from, "end": coverage.valid_to},
        payor=[{"reference": "#payer", "display": payer.name}],
        **{
            "class": [
                {
                    "type": {
                        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}]
                    },
                    "value": record.scheme_code,
                    "name": record.scheme_name,
                }
            ]
        },
    )


async def read_coverage(uow: UnitOfWork, coverage_id: uuid.UUID) -> Coverage:
    return coverage_resource(await insurance.read_coverage(uow, coverage_id))


async def search_coverages(uow: UnitOfWork, search: Search) -> Found:
    rows, cursor = await insurance.search_coverages(uow, patient_id=_patient_id(search, "beneficiary"), **search.page())
    return [coverage_resource(row) for row in rows], cursor


COVERAGE = ResourceType(
    "Coverage",
    "insurance:read",
    read_coverage,
    search_coverages,
    params=(SearchParam("beneficiary", "reference", "The covered patient: Patient/<id> or <id>"),),
)


# --- Claim ---


def claim_status(status: str) -> str:
    """FHIR's Claim.status is the request's state only (the payer's decision belongs to a ClaimResponse)."""
    return {"draft": "draft", "withdrawn": "cancelled"}.get(status, "active")


def icd_10_cm(code: str) -> dict[str, Any]:
    """A claim keeps its codes as the 837P writes them (E119); FHIR's ICD-10-CM system writes them dotted (E11.9)."""
    return {"system": ICD_10_CM, "code": records.diagnosis_code(code) or code}


def procedure_coding(code: str, display: str) -> dict[str, Any]:
    """CPT (starts with a digit) or HCPCS level II (a letter and four digits)."""
    return {"system": CPT if code[0].isdigit() else HCPCS, "code": code, "display": display}


def claim_resource(claim: claims.ClaimRecord, payer_name: str, clinic: ClinicSettings) -> Claim:
    """As the 837P puts it: the clinic is the billing provider, the practitioner renders the care, each line has its
    CPT/HCPCS code and points at the claim's (ICD-10-CM) diagnoses."""
    money_of = lambda amount: money(amount, claim.currency)  # noqa: E731
    diagnoses = list(range(1, len(claim.diagnosis_codes) + 1))
    coverage = (
        ref("Coverage", claim.coverage_id)
        if claim.coverage_id
        else {"identifier": {"value": claim.member_id}, "display": f"Member {claim.member_id}"}
    )
    return Claim(
        id=str(claim.id),
        identifier=[caremesh_identifier("claim-number", claim.number)],
        status=claim_status(claim.status),
        type={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        use="claim",
        patient=ref("Patient", claim.patient_id),
        billablePeriod={"start": claim.service_date, "end": claim.service_date},
        created=claim.created_at,
        insurer={"identifier": _payer_identifier(claim.payer_code), "display": payer_name},
        provider={"identifier": {"system": NPI_SYSTEM, "value": clinic.npi}, "display": clinic.name},
        priority={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
        careTeam=[{"sequence": 1, "provider": ref("Practitioner", claim.practitioner_id)}]
        if claim.practitioner_id
        else None,
        diagnosis=[
            {"sequence": n, "diagnosisCodeableConcept": {"coding": [icd_10_cm(code)]}}
            for n, code in zip(diagnoses, claim.diagnosis_codes, strict=True)
        ]
        or None,
        insurance=[{"sequence": 1, "focal": True, "coverage": coverage}],
        item=[
            {
                "sequence": n,
                "careTeamSequence": [1] if claim.practitioner_id else None,
                "diagnosisSequence": diagnoses[:4] or None,  # an 837P line points at up to four
                "productOrService": {
                    "coding": [procedure_coding(line.procedure_code, line.description)],
                    "text": line.description,
                },
                "servicedDate": claim.service_date,
                "quantity": {"value": line.quantity},
                "net": money_of(line.charge_amount),
            }
            for n, line in enumerate(claim.lines, start=1)
        ],
        total=money_of(claim.total_charge),
    )


async def _claim_resources(uow: UnitOfWork, records: list[claims.ClaimRecord]) -> list[Claim]:
    names: dict[uuid.UUID, str] = {}
    for payer_id in {record.payer_id for record in records}:
        payer = await insurance.find_payer(uow.session, payer_id)
        names[payer_id] = payer.name if payer else ""
    clinic = uow.settings.clinic
    return [claim_resource(record, names[record.payer_id] or record.payer_code, clinic) for record in records]


async def read_claim(uow: UnitOfWork, claim_id: uuid.UUID) -> Claim:
    return (await _claim_resources(uow, [await claims.read_claim(uow, claim_id)]))[0]


async def search_claims(uow: UnitOfWork, search: Search) -> Found:
    rows, cursor = await claims.search_claims(uow, patient_id=_patient_id(search), **search.page())
    return await _claim_resources(uow, rows), cursor


CLAIM = ResourceType("Claim", "claims:read", read_claim, search_claims, params=(_PATIENT,))


# --- Invoice ---

INVOICE_STATUS = {"issued": "issued", "partially_paid": "issued", "paid": "balanced", "void": "cancelled"}


def _component(kind: str, amount: Decimal, currency: str, code: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"type": kind, "amount": money(amount, currency)}
    return found | ({"code": {"coding": [caremesh_coding("price-component", code)]}} if code else {})


def invoice_resource(invoice: billing.InvoiceSummary) -> Invoice:
    """Each line's base price component is the line's amount (unit price times the quantity, its `factor`); the
    invoice's discount and tax are price components of the total, and so is the insurance split (informational)."""
    currency = invoice.currency
    totals = [_component("base", invoice.subtotal, currency)]
    if invoice.discount_amount:
        totals.append(_component("discount", invoice.discount_amount, currency))
    if invoice.tax_amount:
        totals.append(_component("tax", invoice.tax_amount, currency))
    totals += [
        _component("informational", invoice.insurance_amount, currency, "insurance-share"),
        _component("informational", invoice.patient_amount, currency, "patient-share"),
    ]
    return Invoice(
        id=str(invoice.id),
        identifier=[caremesh_identifier("invoice-number", invoice.number)],
        status=INVOICE_STATUS[invoice.status],
        subject=ref("Patient", invoice.patient_id),
        date=invoice.issued_at,
        participant=[{"actor": ref("Practitioner", invoice.practitioner_id)}] if invoice.practitioner_id else None,
        lineItem=[
            {
                "sequence": n,
                "chargeItemCodeableConcept": {
                    "coding": [caremesh_coding("tariff", line.code, line.description)],
                    "text": line.description,
                },
                "priceComponent": [{**_component("base", line.amount, currency), "factor": line.quantity}],
            }
            for n, line in enumerate(invoice.lines, start=1)
        ]
        or None,
        totalPriceComponent=totals,
        totalNet=money(invoice.subtotal - invoice.discount_amount, currency),
        totalGross=money(invoice.total, currency),
    )


async def read_invoice(uow: UnitOfWork, invoice_id: uuid.UUID) -> Invoice:
    return invoice_resource(await billing.read_invoice(uow, invoice_id))


async def search_invoices(uow: UnitOfWork, search: Search) -> Found:
    rows, cursor = await billing.search_invoices(uow, patient_id=_patient_id(search), **search.page())
    return [invoice_resource(row) for row in rows], cursor


INVOICE = ResourceType("Invoice", "invoices:read", read_invoice, search_invoices, params=(_PATIENT,))

RESOURCES = (COVERAGE, CLAIM, INVOICE)
