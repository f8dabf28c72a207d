"""A claim's diagnoses (the 837P `HI` segment): ICD-10-CM codes without their dot, the principal first, at most 12.

Given in `POST /claims`, they are checked against records' code set; else they are the record's: a visit's
diagnoses in the order recorded (retracted ones left out), or, for an invoice of no visit (an order), the patient's
active diagnoses in the order recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.billing import contract as billing
from caremesh.platform.errors import invalid_field
from caremesh.records import contract as records

MAX_DIAGNOSES = 12  # what an 837P's HI segment holds


def x12_code(dotted: str) -> str:
    """E11.9 -> E119."""
    return dotted.replace(".", "")


def checked(codes: Sequence[str]) -> list[str]:
    """Explicit codes, each a billable code of the code set (else 422 UNKNOWN_DIAGNOSIS_CODE), none twice."""
    found: list[str] = []
    for n, code in enumerate(codes):
        dotted = records.diagnosis_code(code)
        if dotted is None:
            raise invalid_field(
                f"diagnosis_codes.{n}", f"{code!r} is not a billable ICD-10-CM code", code="UNKNOWN_DIAGNOSIS_CODE"
            )
        if x12_code(dotted) in found:
            raise invalid_field(f"diagnosis_codes.{n}", f"{code!r} is given twice")
        found.append(x12_code(dotted))
    return found


async def recorded(session: AsyncSession, invoice: billing.InvoiceSummary) -> list[str]:
    """The diagnoses the medical record gives the invoice's claim (maybe none)."""
    if invoice.appointment_id is not None:
        entries = await records.coded_entries(session, invoice.appointment_id)
        diagnoses = [entry for entry in entries if entry.type == records.RecordType.DIAGNOSIS]
    else:
        diagnoses = await records.active_diagnoses(session, invoice.patient_id)
    codes = dict.fromkeys(x12_code(entry.code) for entry in diagnoses)  # once each, in order
    return list(codes)[:MAX_DIAGNOSES]
