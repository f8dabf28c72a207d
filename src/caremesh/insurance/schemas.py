from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from caremesh.insurance.domain import Category, CoverageStatus, SchemeStatus
from caremesh.platform.money import MoneyIn, MoneyOut, money
from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import CatalogueCode, Strict, Text200
from caremesh.platform.timeutil import OutDateTime

Percent = Annotated[
    Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2, allow_inf_nan=False), AfterValidator(money)
]
Bin = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$"), Field(description="Exactly 6 digits")]
Pcn = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,10}$"), Field(description="1-10 alphanumerics")]
MemberId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Age = Annotated[int, Field(ge=0, le=150)]


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


class PayerRead(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    bin: str | None
    pcn: str | None
    created_at: OutDateTime


class SchemeCreate(Strict):
    payer_id: uuid.UUID
    code: CatalogueCode
    name: Text200
    status: SchemeStatus = SchemeStatus.ACTIVE


@dataclass(frozen=True, kw_only=True)
class SchemeFilters(ListFilters):
    payer_id: uuid.UUID | None = None
    status: SchemeStatus | None = None


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


class BenefitCreate(Strict):
    category: Category
    coverage_percent: Percent = Field(description="0-100, two decimals")
    copay_amount: MoneyIn = Decimal("0.00")
    deductible: MoneyIn = Decimal("0.00")
    annual_limit: MoneyIn | None = Field(None, description="null: no limit")
    requires_preauth: bool = False


class BenefitRead(BaseModel):
    id: uuid.UUID
    scheme_id: uuid.UUID
    category: Category
    coverage_percent: MoneyOut
    copay_amount: MoneyOut
    deductible: MoneyOut
    annual_limit: MoneyOut | None
    requires_preauth: bool
    currency: str
    created_at: OutDateTime


class PremiumRateCreate(Strict):
    min_age: Age
    max_age: Age | None = Field(description="Inclusive; null: no upper bound (that age and over)")
    monthly_premium: MoneyIn

    @model_validator(mode="after")
    def _band(self) -> PremiumRateCreate:
        if self.max_age is not None and self.max_age < self.min_age:
            raise ValueError("max_age must not be below min_age")
        return self


class PremiumRateRead(BaseModel):
    id: uuid.UUID
    scheme_id: uuid.UUID
    min_age: int
    max_age: int | None = Field(description="Inclusive; null: no upper bound")
    monthly_premium: MoneyOut
    currency: str
    created_at: OutDateTime


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

    @model_validator(mode="after")
    def _range(self) -> CoverageCreate:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        return self


@dataclass(frozen=True, kw_only=True)
class CoverageFilters(ListFilters):
    patient_id: uuid.UUID | None = None
    scheme_id: uuid.UUID | None = None
    member_id: str | None = Query(None, max_length=20)
    status: CoverageStatus | None = None


class CoverageRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    scheme_id: uuid.UUID
    payer_id: uuid.UUID
    member_id: str
    valid_from: date
    valid_to: date | None
    status: CoverageStatus
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
