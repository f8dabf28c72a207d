from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import AfterValidator, AliasPath, BaseModel, BeforeValidator, Field, StringConstraints, field_validator

from caremesh.claims.domain import Action, ClaimStatus
from caremesh.insurance.contract import CategoryName
from caremesh.platform.money import MoneyOut, money
from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import Strict
from caremesh.platform.timeutil import OutDateTime

MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False), AfterValidator(money)]
PositiveMoney = Annotated[
    Decimal, Field(gt=0, max_digits=12, decimal_places=2, allow_inf_nan=False), AfterValidator(money)
]
DiagnosisCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z][0-9][0-9A-Z]{1,5}$"),
    Field(description="ICD-10-CM without the dot, e.g. I10 or J069 (a billable code of the bundled code set)"),
]
ReasonCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z0-9]{1,5}$"), Field(description="CARC")
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class ClaimCreate(Strict):
    invoice_id: uuid.UUID
    diagnosis_codes: list[DiagnosisCode] | None = Field(
        None,
        min_length=1,
        max_length=12,
        description="ICD-10-CM billable codes, the first principal; default: the visit's diagnoses in the order "
        "recorded (an order's invoice: the patient's active diagnoses)",
    )


class ClaimLineChange(Strict):
    position: int = Field(ge=1, le=999, description="The claim line, numbered as its invoice line")
    quantity: int | None = Field(None, ge=1, le=10_000, description="At most the invoice line's; default that")
    claimed_amount: MoneyIn | None = Field(
        None,
        description="At most the line's share of the invoice's insurance amount, pro rata to the quantity "
        "(default: that)",
    )


class ClaimUpdate(Strict):
    """A draft's corrections. `lines` is the whole list of lines the claim keeps: a line left out is dropped."""

    diagnosis_codes: list[DiagnosisCode] | None = Field(
        None, min_length=1, max_length=12, description="ICD-10-CM billable codes, the first principal"
    )
    lines: list[ClaimLineChange] | None = Field(None, min_length=1, max_length=50)


class WithdrawRequest(Strict):
    reason: Text | None = None


class ApproveRequest(Strict):
    approved_amount: PositiveMoney


class RejectRequest(Strict):
    reason_code: ReasonCode
    reason: Text


class AdjustmentRead(BaseModel):
    group_code: str
    reason_code: str
    amount: MoneyOut


def _reason_codes(adjustments: list[dict[str, Any]]) -> list[str]:
    """Each adjustment's reason code once, in order."""
    return list(dict.fromkeys(a["reason_code"] for a in adjustments))


class ClaimLineRead(BaseModel):
    position: int
    code: str
    description: str
    quantity: int
    charge_amount: MoneyOut
    claimed_amount: MoneyOut
    approved_amount: MoneyOut | None
    reason_codes: Annotated[list[str], BeforeValidator(_reason_codes)] = Field(validation_alias="adjustments")
    adjustments: list[AdjustmentRead]


@dataclass(frozen=True, kw_only=True)
class ClaimFilters(ListFilters):
    status: ClaimStatus | None = None
    patient_id: uuid.UUID | None = None
    invoice_id: uuid.UUID | None = None
    payer_id: uuid.UUID | None = None


class ClaimRead(BaseModel):
    id: uuid.UUID
    number: str
    invoice_id: uuid.UUID
    invoice_number: str
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID | None
    payer_id: uuid.UUID
    payer_code: str
    coverage_id: uuid.UUID | None
    member_id: str
    category: CategoryName
    service_date: date
    status: ClaimStatus
    currency: str
    total_charge: MoneyOut
    claimed_amount: MoneyOut
    approved_amount: MoneyOut | None
    paid_amount: MoneyOut
    diagnosis_codes: list[str]
    lines: list[ClaimLineRead]
    rejection_reason_code: str | None
    rejection_reason: str | None
    submitted_at: OutDateTime | None
    adjudicated_at: OutDateTime | None
    paid_at: OutDateTime | None
    withdrawn_at: OutDateTime | None
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


class HistoryEntryRead(BaseModel):
    from_status: ClaimStatus | None
    to_status: ClaimStatus
    action: Action
    actor_id: uuid.UUID | None
    note: str | None
    approved_amount: MoneyOut | None
    occurred_at: OutDateTime


# --- disputes ---------------------------------------------------------------------------------------------


class DisputeCreate(Strict):
    claim_id: uuid.UUID
    reason: LongText


class DisputeResolve(Strict):
    outcome: Literal["upheld", "overturned"]
    approved_amount: PositiveMoney | None = Field(None, description="Overturned only; default the claimed amount")
    note: LongText | None = None


@dataclass(frozen=True, kw_only=True)
class DisputeFilters(ListFilters):
    claim_id: uuid.UUID | None = None
    status: Literal["open", "resolved"] | None = None


class DisputeRead(BaseModel):
    id: uuid.UUID
    claim_id: uuid.UUID
    reason: str
    status: Literal["open", "resolved"]
    outcome: Literal["upheld", "overturned"] | None
    approved_amount: MoneyOut | None
    note: str | None = Field(validation_alias="resolution_note")
    created_at: OutDateTime
    resolved_at: OutDateTime | None
    version: int


class AttachmentRead(BaseModel):
    id: uuid.UUID
    dispute_id: uuid.UUID
    filename: str
    content_type: Literal["application/pdf", "image/png", "image/jpeg"]
    size: int = Field(description="Bytes")
    sha256: str = Field(description="Of the bytes received, hex")
    created_at: OutDateTime


# --- remittances ------------------------------------------------------------------------------------------

ClaimNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
AdjustmentCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z]{2}-[A-Z0-9]{1,5}$")
]


class RemittanceItemIn(Strict):
    claim_number: ClaimNumber
    paid_amount: MoneyIn
    adjustment_codes: list[AdjustmentCode] = Field(default_factory=list, max_length=99)


class RemittanceIn(Strict):
    remittance_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    payer_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    items: list[RemittanceItemIn] = Field(min_length=1, max_length=1000)


class PostedItemRead(BaseModel):
    claim_number: str
    claim_id: uuid.UUID
    paid_amount: MoneyOut
    adjustment_codes: list[str]


class UnmatchedItemRead(BaseModel):
    claim_number: str
    paid_amount: MoneyOut
    reason: str


class RemittanceRead(BaseModel):
    id: uuid.UUID
    remittance_id: str
    payer_code: str
    format: Literal["json", "x12_835"]
    received_at: OutDateTime
    currency: str
    paid_total: MoneyOut
    posted_amount: MoneyOut
    unmatched_amount: MoneyOut
    posted: list[PostedItemRead] = Field(validation_alias=AliasPath("result", "posted"))
    unmatched: list[UnmatchedItemRead] = Field(validation_alias=AliasPath("result", "unmatched"))


class UnmatchedReportItem(BaseModel):
    remittance_id: str
    payer_code: str
    claim_number: str
    paid_amount: MoneyOut
    reason: str


class PayerTotals(BaseModel):
    payer_code: str
    remittances: int
    posted_amount: MoneyOut
    unmatched_amount: MoneyOut


class Outstanding(BaseModel):
    count: int
    amount: MoneyOut


class ReconciliationReport(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    currency: str
    remittances: int
    posted_count: int
    posted_amount: MoneyOut
    unmatched_count: int
    unmatched_amount: MoneyOut
    unmatched: list[UnmatchedReportItem]
    by_payer: list[PayerTotals]
    outstanding: Outstanding


@dataclass(frozen=True, kw_only=True)
class RemittanceFilters(ListFilters):
    payer_code: Annotated[str | None, Query(min_length=1, max_length=80)] = None
    from_: Annotated[date | None, Query(alias="from", description="Received on or after this clinic date")] = None
    to: Annotated[date | None, Query(description="Received on or before this clinic date")] = None


class RemittanceSummaryRead(BaseModel):
    """A remittance in a list: its totals; its items are read one remittance at a time."""

    id: uuid.UUID
    remittance_id: str
    payer_code: str
    format: Literal["json", "x12_835"]
    received_at: OutDateTime
    currency: str
    paid_total: MoneyOut
    posted_amount: MoneyOut
    unmatched_amount: MoneyOut
    posted_count: int = Field(validation_alias=AliasPath("result", "posted"))
    unmatched_count: int = Field(validation_alias=AliasPath("result", "unmatched"))

    @field_validator("posted_count", "unmatched_count", mode="before")
    @classmethod
    def _count(cls, value: Any) -> Any:
        return len(value) if isinstance(value, list) else value
