from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import Query
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from caremesh.billing import domain
from caremesh.billing.domain import InvoiceStatus, Kind, TariffKind
from caremesh.platform.money import MoneyIn, MoneyOut
from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import CatalogueCode, Strict, not_clearable
from caremesh.platform.timeutil import OutDateTime


def _rate_text(value: Decimal) -> str:
    """0.1200 -> "0.12", 0.125 -> "0.125": at least two decimals, no trailing zeros beyond."""
    text = f"{value.normalize():f}"
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def _percent(fraction: Decimal) -> Decimal:
    """0.9 -> 90.00: an invoice stores its coverage as a fraction and shows it in percent."""
    return domain.money(fraction * domain.HUNDRED)


# A fraction (0.12 is 12 %) with at most four decimals; a string in responses.
RateIn = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4, allow_inf_nan=False)]
RateOut = Annotated[Decimal, PlainSerializer(_rate_text, return_type=str)]

Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Specialty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Years = Annotated[int, Field(ge=0, le=100)]


# --- tariffs ----------------------------------------------------------------------


class FlatPricing(Strict):
    type: Literal["flat"]
    amount: MoneyIn

    def to_domain(self) -> domain.Flat:
        return domain.Flat(self.amount)


class BandIn(Strict):
    min_years: Years
    max_years: Years | None = Field(description="Inclusive; null for the last, open-ended band")
    amount: MoneyIn


class ExperienceBandsPricing(Strict):
    """Bands by whole years of the practitioner's experience on the day of the visit: in order,
    contiguous from 0, the last open-ended."""

    type: Literal["experience_bands"]
    bands: list[BandIn] = Field(min_length=1, max_length=20)

    def to_domain(self) -> domain.ExperienceBands:
        return domain.ExperienceBands(tuple(domain.Band(b.min_years, b.max_years, b.amount) for b in self.bands))

    @model_validator(mode="after")
    def _bands_fit_together(self) -> ExperienceBandsPricing:
        problem = domain.bands_problem(self.to_domain().bands)
        if problem:
            raise ValueError(problem)
        return self


class HourlyPricing(Strict):
    """Billed hours: whole hours of the visit, one more when the remainder exceeds
    `round_up_after_minutes`, at least one."""

    type: Literal["hourly"]
    rate: MoneyIn
    round_up_after_minutes: int = Field(ge=0, le=59)

    def to_domain(self) -> domain.Hourly:
        return domain.Hourly(self.rate, self.round_up_after_minutes)


Pricing = Annotated[FlatPricing | ExperienceBandsPricing | HourlyPricing, Field(discriminator="type")]


class TariffCreate(Strict):
    code: CatalogueCode
    description: Description
    kind: TariffKind
    specialty: Specialty | None = Field(None, description="For consultations: the specialty this tariff prices")
    pricing: Pricing
    tax_rate: RateIn | None = Field(None, description="A fraction (0.12 is 12 %); null: the default tax rate")


class TariffUpdate(Strict):
    """Only the fields sent change; `null` clears `specialty` or `tax_rate`. Code and kind never change."""

    model_config = ConfigDict(json_schema_extra=not_clearable("description", "pricing"))

    description: Description | None = None
    specialty: Specialty | None = None
    pricing: Pricing | None = None
    tax_rate: RateIn | None = None


@dataclass(frozen=True, kw_only=True)
class TariffFilters(ListFilters):
    kind: TariffKind | None = None
    specialty: str | None = Query(None, max_length=50)


# Read from a tariff row with `context={"default_tax_rate": ...}`: the setting `effective_tax_rate` falls back to.
class TariffRead(BaseModel):
    code: str
    description: str
    kind: TariffKind
    specialty: str | None
    pricing: Pricing
    tax_rate: RateOut | None
    effective_tax_rate: RateOut = Field(
        validation_alias="tax_rate", description="`tax_rate`, or the default when it is null"
    )
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime

    @field_validator("effective_tax_rate", mode="before")
    @classmethod
    def _default_tax_rate(cls, rate: Decimal | None, info: ValidationInfo) -> Decimal:
        return info.context["default_tax_rate"] if rate is None else rate


# --- invoices ---------------------------------------------------------------------


class InvoiceCreate(Strict):
    """Invoice a visit."""

    appointment_id: uuid.UUID


MAX_MANUAL_LINES = 50
Quantity = Annotated[int, Field(ge=1, le=10_000)]


class TariffLineIn(Strict):
    """A line priced by a tariff: flat (its amount) or hourly (its rate per unit); quantity × that price."""

    tariff_code: CatalogueCode
    quantity: Quantity


class FreeLineIn(Strict):
    """A line the desk prices: `description`, quantity × `unit_price`."""

    description: Description
    quantity: Quantity
    unit_price: MoneyIn


class ManualInvoiceCreate(Strict):
    """Invoice what no visit or order bills (kind `manual`): no loyalty discount; taxed and split with insurance
    under one category, that of its tariff lines (free-text lines and an invoice of them only: `procedure`)."""

    patient_id: uuid.UUID
    lines: list[TariffLineIn | FreeLineIn] = Field(min_length=1, max_length=MAX_MANUAL_LINES)


@dataclass(frozen=True, kw_only=True)
class CreditNoteFilters(ListFilters):
    invoice_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None


class CreditNoteCreate(Strict):
    amount: Annotated[MoneyIn, Field(gt=0)] = Field(description="Reduces the invoice's patient share")
    reason: Reason


class CreditNoteRead(BaseModel):
    id: uuid.UUID
    number: str = Field(description="Gapless per year: CN-2026-000001")
    invoice_id: uuid.UUID
    patient_id: uuid.UUID
    amount: MoneyOut
    currency: str
    reason: str
    created_at: OutDateTime


@dataclass(frozen=True, kw_only=True)
class InvoiceFilters(ListFilters):
    patient_id: uuid.UUID | None = None
    status: InvoiceStatus | None = None
    appointment_id: uuid.UUID | None = None
    order_id: uuid.UUID | None = None
    kind: Kind | None = None
    premium_billing_id: uuid.UUID | None = None


class InvoiceVoid(Strict):
    reason: Reason | None = None


class InvoiceLineRead(BaseModel):
    code: str
    description: str
    quantity: int
    unit_price: MoneyOut
    amount: MoneyOut
    medical_record_id: uuid.UUID | None = Field(
        validation_alias="source_record_id", description="The procedure (medical record) this line bills, if any"
    )


class InvoiceRead(BaseModel):
    id: uuid.UUID
    number: str
    patient_id: uuid.UUID
    appointment_id: uuid.UUID | None
    order_id: uuid.UUID | None
    practitioner_id: uuid.UUID | None
    kind: Kind = Field(
        description="What was charged: a visit (consultation), an order's kind, a procedure after payment, "
        "lines entered at the desk (manual) or an insurance premium"
    )
    insurance_category: str | None = Field(description="The insurance category the split was computed under")
    premium_billing_id: uuid.UUID | None = Field(description="A premium invoice: the premium billing it answers")
    service_date: date = Field(description="The day of the visit, or the day the order was invoiced (clinic time)")
    lines: list[InvoiceLineRead]
    subtotal: MoneyOut
    discount_percent: int
    discount_amount: MoneyOut
    tax_rate: RateOut
    tax_amount: MoneyOut
    total: MoneyOut
    coverage_percent: Annotated[MoneyOut, BeforeValidator(_percent)] = Field(
        validation_alias="coverage", description="Share of the total the insurer pays, in percent"
    )
    insurance_amount: MoneyOut
    insurance_paid: MoneyOut
    patient_amount: MoneyOut
    amount_paid: MoneyOut
    credited_amount: MoneyOut = Field(description="The sum of the invoice's credit notes")
    balance_due: MoneyOut = Field(description="patient_amount - credited_amount - amount_paid")
    status: InvoiceStatus
    currency: str
    insurance_bin: str | None
    insurance_pcn: str | None
    issued_at: OutDateTime
    paid_at: OutDateTime | None
    voided_at: OutDateTime | None
    void_reason: str | None
    version: int
    updated_at: OutDateTime


# --- accounts receivable ------------------------------------------------------------


class AgingRead(BaseModel):
    buckets: dict[str, MoneyOut] = Field(description='Open balances by age in days: "0-30", "31-60", "61-90", "90+"')
    total: MoneyOut


class PatientAgingRead(AgingRead):
    patient_id: uuid.UUID


class PayerAgingRead(AgingRead):
    payer: str = Field(description='"patient", or the insurer as "BIN/PCN"')


class AccountsReceivableRead(BaseModel):
    as_of: date
    currency: str
    totals: AgingRead
    by_patient: list[PatientAgingRead]
    by_payer: list[PayerAgingRead]
