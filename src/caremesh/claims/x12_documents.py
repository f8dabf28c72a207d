"""A claim written as an X12 837P, and a payer's X12 835 read as a remittance."""

from __future__ import annotations

import re
import uuid

from caremesh.audit import contract as audit
from caremesh.claims import x12
from caremesh.claims.errors import InvalidX12, NotClaimable
from caremesh.claims.records import CLAIMS
from caremesh.claims.schemas import RemittanceIn
from caremesh.insurance import contract as insurance
from caremesh.patients import contract as patients
from caremesh.platform.mapping import from_attributes
from caremesh.platform.uow import UnitOfWork

# --- X12 837P ---------------------------------------------------------------------------------------------

# HCPCS/CPT for lines whose code is not one already: an established-patient office visit, unlisted chemistry,
# unclassified drugs, unlisted special service.
DEFAULT_PROCEDURE = {"consultation": "99213", "lab": "84999", "pharmacy": "J3490", "procedure": "99199"}


# CPT (five digits, or four and F/T/U for category II, III and PLA codes) or HCPCS level II (a letter and four digits).
_CPT_OR_HCPCS = re.compile(r"[0-9]{5}|[0-9]{4}[FTU]|[A-V][0-9]{4}")


def _procedure_code(code: str, category: str) -> str:
    """A line's own code when it is a CPT/HCPCS code (a procedure tariff's), else the category's default."""
    upper = code.upper()
    return upper if _CPT_OR_HCPCS.fullmatch(upper) else DEFAULT_PROCEDURE[category]


def control_number(claim_number: str) -> int:
    """ISA13 from the claim's number (CLM-2026-000042 -> 260000042): unique per claim, the same on every download."""
    _, year, serial = claim_number.split("-")
    return int(year[-2:]) * 10_000_000 + int(serial) % 10_000_000


async def x12_837p(uow: UnitOfWork, claim_id: uuid.UUID) -> str:
    claim = await CLAIMS.load(uow, claim_id)
    session = uow.session
    patient = await patients.find_patient(session, claim.patient_id)
    payer = await insurance.find_payer(session, claim.payer_id)
    if patient is None or payer is None:
        raise NotClaimable("The claim's patient or payer no longer exists.")
    address = None
    if patient.address:
        a = patient.address
        address = x12.Address(a["line1"], a.get("line2"), a["city"], a["state"], a["postal_code"], a["country"])
    subscriber = from_attributes(x12.Subscriber, patient, member_id=claim.member_id, address=address)
    document = x12.Claim837(
        claim_number=claim.number,
        total_charge=claim.total_charge,
        diagnosis_codes=tuple(claim.diagnosis_codes),
        lines=tuple(
            x12.ServiceLine(
                procedure_code=_procedure_code(line.code, claim.category),
                description=line.description,
                charge=line.charge_amount,
                units=line.quantity,
                service_date=claim.service_date,
            )
            for line in claim.lines
        ),
    )
    try:
        rendered = x12.render_837p(
            document,
            subscriber,
            x12.Payer(name=payer.name, payer_id=payer.code),
            uow.settings.clinic,
            control_number=control_number(claim.number),
            created_at=uow.now(),
        )
    except ValueError as error:
        raise NotClaimable(f"The claim cannot be written as an 837P: {error}") from error
    audit.record(uow, "claim.x12_837p", "claim", claim.id)
    return rendered


# --- X12 835 ---------------------------------------------------------------------------------------------


def remittance_from_835(body: str) -> RemittanceIn:
    try:
        parsed = x12.parse_835(body)
    except x12.X12Error as error:
        raise InvalidX12(str(error)) from error
    try:
        return RemittanceIn(
            remittance_id=parsed.remittance_id,
            payer_code=parsed.payer_code,
            items=[
                {
                    "claim_number": item.claim_number,
                    "paid_amount": item.paid_amount,
                    "adjustment_codes": list(item.adjustment_codes),
                }
                for item in parsed.items
            ],
        )
    except ValueError as error:
        raise InvalidX12(f"The 835 does not make a valid remittance: {error}") from error
