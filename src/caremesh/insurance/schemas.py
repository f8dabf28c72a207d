from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from caremesh.insurance.domain import Category, CommissionStatus, CoverageStatus, SchemeStatus, period_start
from caremesh.platform.money import MoneyIn, MoneyOut, money
from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import CatalogueCode, Strict, Text200, not_clearable
from caremesh.platform.timeutil import OutDateTime

Percent = Annotated[
    Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2, allow_inf_nan=False), AfterValidator(money)
]
Bin = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$"), Field(description="Exactly 6 digits")]
Pcn = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,10}$"), Field(description="1-10 alphanumerics")]
MemberId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Age = Annotated[int, Field(ge=0, le=150)]
PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def _a_month(period: str) -> str:
    period_start(period)  # year 0000 matches the pattern but is no month
    return period


Period = Annotated[
    str, StringConstraints(pattern=PERIOD_PATTERN), AfterValidator(_a_month), Field(description="A month, YYYY-MM")
]


# --- payers and schemes -----------------------------------------------------------------------


class PayerCreate(Strict):
    code: CatalogueCode
    name: Text200
    bin: Bin | None = None
    pcn: Pcn | None = None

    @model_validator(mode="after")
    def _pcn_needs_bin(self) -> PayerCreate:
        if self.pcn is not None and self.bin is None:
            raise ValueError("a PCN needs a BIN")
        return self


# With `bin` and `pcn` both given, the list is the payer that card resolves to (see `service.list_payers`).
@dataclass(frozen=True, kw_only=True)
class PayerFilters(ListFilters):
    code: str | None = Query(None, max_length=40)
    bin: str | None = Query(None, pattern=r"^[0-9]{6}$")
    pcn: str | None = Query(None, pattern=r"^[A-Za-z0-9]{1,10}$")


class PayerUpdate(Strict):
    """Only the fields sent change; `null` clears the BIN or PCN (a PCN needs a BIN). The code is the payer's
    identity in other contexts and files: not editable."""

    model_config = ConfigDict(json_schema_extra=not_clearable("name"))

    name: Text200 | None = None
    bin: Bin | None = None
    pcn: Pcn | None = None


class PayerRead(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    bin: str | None
    pcn: str | None
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


class SchemeCreate(Strict):
    payer_id: uuid.UUID
    code: CatalogueCode
    name: Text200
    status: SchemeStatus = SchemeStatus.ACTIVE


@dataclass(frozen=True, kw_only=True)
class SchemeFilters(ListFilters):
    payer_id: uuid.UUID | None = None
    status: SchemeStatus | None = None


class SchemeUpdate(Strict):
    """Only the fields sent change. The status changes through `suspend`/`activate` (which publish events); the
    payer is the scheme's identity."""

    model_config = ConfigDict(json_schema_extra=not_clearable("code", "name"))

    code: CatalogueCode | None = None
    name: Text200 | None = None


class SchemeRead(BaseModel):
    id: uuid.UUID
    payer_id: uuid.UUID
    code: str
    name: str
    status: SchemeStatus
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


# --- benefits and premium rates -------------------------------------------------------------


TERMS = ("coverage_percent", "copay_amount", "deductible", "annual_limit", "requires_preauth")


class BenefitCreate(Strict):
    category: Category
    coverage_percent: Percent = Field(description="0-100, two decimals")
    copay_amount: MoneyIn = Decimal("0.00")
    deductible: MoneyIn = Decimal("0.00")
    annual_limit: MoneyIn | None = Field(None, description="null: no limit")
    requires_preauth: bool = False
    effective_from: date | None = Field(
        None, description="Default: today at the clinic. The first terms also govern earlier service dates."
    )


class BenefitUpdate(Strict):
    """New terms from `effective_from` (default: today at the clinic) on; the fields not sent keep the values in
    force on that date. Terms already recorded for that very date are replaced (a correction). `null` for
    `annual_limit`: no limit."""

    model_config = ConfigDict(
        json_schema_extra=not_clearable(
            "coverage_percent", "copay_amount", "deductible", "requires_preauth", "effective_from"
        )
    )

    effective_from: date | None = None
    coverage_percent: Percent | None = None
    copay_amount: MoneyIn | None = None
    deductible: MoneyIn | None = None
    annual_limit: MoneyIn | None = None
    requires_preauth: bool | None = None


class BenefitTermsRead(BaseModel):
    effective_from: date
    coverage_percent: MoneyOut
    copay_amount: MoneyOut
    deductible: MoneyOut
    annual_limit: MoneyOut | None
    requires_preauth: bool
    currency: str
    recorded_at: OutDateTime
    recorded_by: uuid.UUID | None = Field(description="The user who recorded them; null: the system")


class BenefitRead(BaseModel):
    """The benefit with the terms in force today at the clinic (`effective_from`: since when)."""

    id: uuid.UUID
    scheme_id: uuid.UUID
    category: Category
    effective_from: date
    coverage_percent: MoneyOut
    copay_amount: MoneyOut
    deductible: MoneyOut
    annual_limit: MoneyOut | None
    requires_preauth: bool
    currency: str
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


class PremiumRateCreate(Strict):
    min_age: Age
    max_age: Age | None = Field(description="Inclusive; null: no upper bound (that age and over)")
    monthly_premium: MoneyIn

    @model_validator(mode="after")
    def _band(self) -> PremiumRateCreate:
        if self.max_age is not None and self.max_age < self.min_age:
            raise ValueError("max_age must not be below min_age")
        return self


class PremiumRateUpdate(Strict):
    """Only the fields sent change; `max_age: null` opens the band upwards. The band must not overlap another."""

    model_config = ConfigDict(json_schema_extra=not_clearable("min_age", "monthly_premium"))

    min_age: Age | None = None
    max_age: Age | None = None
    monthly_premium: MoneyIn | None = None


class PremiumRateRead(BaseModel):
    id: uuid.UUID
    scheme_id: uuid.UUID
    min_age: int
    max_age: int | None = Field(description="Inclusive; null: no upper bound")
    monthly_premium: MoneyOut
    currency: str
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


class PremiumQuoteRead(BaseModel):
    scheme_id: uuid.UUID
    date_of_birth: date
    on: date = Field(description="Today at the clinic: the day the age is taken on")
    age: int
    premium_rate_id: uuid.UUID
    min_age: int
    max_age: int | None
    monthly_premium: MoneyOut
    currency: str


# --- coverages and pre-authorisations -------------------------------------------------------


class CoverageCreate(Strict):
    patient_id: uuid.UUID
    scheme_id: uuid.UUID
    member_id: MemberId
    valid_from: date
    valid_to: date | None = None
    status: CoverageStatus = CoverageStatus.ACTIVE
    agent_id: uuid.UUID | None = Field(None, description="The agent who sold it (earns commission on its premiums)")

    @model_validator(mode="after")
    def _range(self) -> CoverageCreate:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        return self


class CoverageUpdate(Strict):
    """Only the fields sent change; `null` clears `valid_to` (open-ended) or `agent_id`. The patient and the scheme
    are the coverage's identity: a different one is a new coverage."""

    model_config = ConfigDict(json_schema_extra=not_clearable("status", "valid_from", "member_id"))

    status: CoverageStatus | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    member_id: MemberId | None = None
    agent_id: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True)
class CoverageFilters(ListFilters):
    patient_id: uuid.UUID | None = None
    scheme_id: uuid.UUID | None = None
    member_id: str | None = Query(None, max_length=20)
    status: CoverageStatus | None = None
    agent_id: uuid.UUID | None = None


class CoverageRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    scheme_id: uuid.UUID
    payer_id: uuid.UUID
    member_id: str
    valid_from: date
    valid_to: date | None
    status: CoverageStatus
    agent_id: uuid.UUID | None
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


class CoverageCheckRead(BaseModel):
    member_id: str
    on: date
    coverages: list[CoverageRead]


class PreauthorizationCreate(Strict):
    coverage_id: uuid.UUID
    category: Category
    valid_from: date
    valid_to: date
    max_amount: MoneyIn | None = None
    reference: Reference | None = None

    @model_validator(mode="after")
    def _range(self) -> PreauthorizationCreate:
        if self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        return self


@dataclass(frozen=True, kw_only=True)
class PreauthorizationFilters(ListFilters):
    coverage_id: uuid.UUID | None = None
    category: Category | None = None


class PreauthorizationRead(BaseModel):
    id: uuid.UUID
    coverage_id: uuid.UUID
    category: Category
    valid_from: date
    valid_to: date
    max_amount: MoneyOut | None
    reference: str | None
    status: str
    created_at: OutDateTime


# --- verification ------------------------------------------------------------------------------


class VerifyRequest(Strict):
    patient_id: uuid.UUID
    category: Category
    amount: MoneyIn
    service_date: date


class VerificationRead(BaseModel):
    eligible: bool
    coverage_id: uuid.UUID | None
    payer_amount: MoneyOut
    patient_amount: MoneyOut
    deductible_applied: MoneyOut
    copay_applied: MoneyOut
    remaining_annual_limit: MoneyOut | None = Field(description="Before this service; null: no limit")
    requires_preauth: bool
    reasons: list[str]
    currency: str


# --- premium billing ---------------------------------------------------------------------------------


class PremiumRunRequest(Strict):
    period: Period


class SkippedCoverage(BaseModel):
    coverage_id: uuid.UUID
    reason: str = Field(description="ALREADY_BILLED, NO_PREMIUM_RATE or PATIENT_NOT_FOUND")


class PremiumRunRead(BaseModel):
    period: str
    issued: int = Field(description="Premiums billed by this run")
    skipped: int = Field(description="Coverages active on the first day not billed by this run")
    skipped_reasons: list[SkippedCoverage]


@dataclass(frozen=True, kw_only=True)
class PremiumBillingFilters(ListFilters):
    coverage_id: uuid.UUID | None = None
    period: str | None = Query(None, pattern=PERIOD_PATTERN)
    agent_id: uuid.UUID | None = None
    invoice_id: uuid.UUID | None = None


class PremiumBillingRead(BaseModel):
    id: uuid.UUID
    coverage_id: uuid.UUID
    period: str
    patient_id: uuid.UUID
    scheme_id: uuid.UUID
    premium_rate_id: uuid.UUID
    age: int = Field(description="The member's age on the period's first day")
    amount: MoneyOut
    currency: str
    agent_id: uuid.UUID | None
    commission_percent: MoneyOut | None = Field(description="The agent's percent when billed")
    invoice_id: uuid.UUID | None = Field(description="Billing's premium invoice, once issued")
    billed_at: OutDateTime


# --- agents and commissions --------------------------------------------------------------------------


class AgentCreate(Strict):
    code: CatalogueCode
    name: Text200
    commission_percent: Percent = Field(description="0-100, two decimals")


class AgentUpdate(Strict):
    """Only the fields sent change. A new percent applies to premiums billed from now on."""

    model_config = ConfigDict(json_schema_extra=not_clearable("name", "commission_percent"))

    name: Text200 | None = None
    commission_percent: Percent | None = None


@dataclass(frozen=True, kw_only=True)
class AgentFilters(ListFilters):
    code: str | None = Query(None, max_length=40)


class AgentRead(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    commission_percent: MoneyOut
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


@dataclass(frozen=True, kw_only=True)
class CommissionFilters(ListFilters):
    agent_id: uuid.UUID | None = None
    status: CommissionStatus | None = None
    period: str | None = Query(None, pattern=PERIOD_PATTERN)
    payout_id: uuid.UUID | None = None


class CommissionRead(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    invoice_id: uuid.UUID
    premium_billing_id: uuid.UUID
    period: str
    amount: MoneyOut
    currency: str
    status: CommissionStatus
    payout_id: uuid.UUID | None
    accrued_at: OutDateTime


class CommissionPayoutCreate(Strict):
    agent_id: uuid.UUID
    period: Period


@dataclass(frozen=True, kw_only=True)
class CommissionPayoutFilters(ListFilters):
    agent_id: uuid.UUID | None = None
    period: str | None = Query(None, pattern=PERIOD_PATTERN)


class CommissionPayoutRead(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    period: str
    amount: MoneyOut
    currency: str
    commission_ids: list[uuid.UUID]
    paid_at: OutDateTime
    paid_by: uuid.UUID | None
