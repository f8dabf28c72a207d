"""What other contexts may use of claims: the event names, and the remittances received on a clinic day (for the
daily settlement of payments). Claims themselves are read through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.claims import service
from caremesh.claims.events import (
    CLAIM_ADJUDICATED,
    CLAIM_PAID,
    CLAIM_SUBMITTED,
    CLAIM_WITHDRAWN,
    ClaimAdjudicated,
    ClaimPaid,
    ClaimSubmitted,
    ClaimWithdrawn,
)
from caremesh.claims.models import Claim, Remittance
from caremesh.claims.schemas import ClaimFilters
from caremesh.claims.x12_documents import _procedure_code
from caremesh.platform.mapping import from_attributes
from caremesh.platform.pagination import PageParams
from caremesh.platform.uow import UnitOfWork

__all__ = [
    "CLAIM_ADJUDICATED",
    "CLAIM_PAID",
    "CLAIM_SUBMITTED",
    "CLAIM_WITHDRAWN",
    "ClaimAdjudicated",
    "ClaimPaid",
    "ClaimSubmitted",
    "ClaimWithdrawn",
    "RemittancesReceived",
    "remittances_received",
]


@dataclass(frozen=True)
class RemittancesReceived:
    """One payer's remittances processed on a clinic day: how many, and what they posted to claims."""

    payer_code: str
    count: int
    posted_amount: Decimal


async def remittances_received(session: AsyncSession, day: date) -> list[RemittancesReceived]:
    """The remittances processed on clinic day `day`, per payer (by payer code)."""
    rows = await session.execute(
        select(Remittance.payer_code, func.count(), func.coalesce(func.sum(Remittance.posted_amount), 0))
        .where(Remittance.received_on == day)
        .group_by(Remittance.payer_code)
        .order_by(Remittance.payer_code)
    )
    return [
        RemittancesReceived(payer_code=code, count=count, posted_amount=Decimal(total).quantize(Decimal("0.01")))
        for code, count, total in rows
    ]


# --- issue 17: reads for the FHIR facade, through the same use cases as GET /claims (audit) ---


@dataclass(frozen=True)
class ClaimLineRecord:
    position: int
    procedure_code: str  # CPT or HCPCS level II, as the 837P names the line
    description: str
    quantity: int
    charge_amount: Decimal
    claimed_amount: Decimal


@dataclass(frozen=True)
class ClaimRecord:
    """A claim's columns of the same names, its ICD-10-CM diagnoses and its lines."""

    id: uuid.UUID
    number: str
    invoice_id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID | None
    payer_id: uuid.UUID
    payer_code: str
    coverage_id: uuid.UUID | None
    member_id: str
    category: str
    service_date: date
    status: str
    currency: str
    total_charge: Decimal
    claimed_amount: Decimal
    created_at: datetime
    diagnosis_codes: tuple[str, ...]
    lines: tuple[ClaimLineRecord, ...]


def _claim_record(claim: Claim) -> ClaimRecord:
    lines = tuple(
        from_attributes(ClaimLineRecord, line, procedure_code=_procedure_code(line.code, claim.category))
        for line in claim.lines
    )
    return from_attributes(ClaimRecord, claim, diagnosis_codes=tuple(claim.diagnosis_codes), lines=lines)


async def read_claim(uow: UnitOfWork, claim_id: uuid.UUID) -> ClaimRecord:
    """As `GET /claims/{id}` reads it, audited as `claim.read`; else ClaimNotFound."""
    return _claim_record(await service.get_claim(uow, claim_id))


async def search_claims(
    uow: UnitOfWork, *, patient_id: uuid.UUID | None = None, limit: int, cursor: str | None = None
) -> tuple[list[ClaimRecord], str | None]:
    """One page of what `GET /claims` lists (of one patient, if given), audited as it is; and the next cursor."""
    rows, next_cursor = await service.list_claims(
        uow, ClaimFilters(patient_id=patient_id), PageParams(limit=limit, cursor=cursor)
    )
    return [_claim_record(row) for row in rows], next_cursor


__all__ += ["ClaimLineRecord", "ClaimRecord", "read_claim", "search_claims"]
