from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from caremesh.insurance.domain import Category, CommissionStatus, CoverageStatus, SchemeStatus
from caremesh.platform.db import Base, Money, UTCDateTime, new_id, partial_index, quoted_list
from caremesh.platform.money import cents_sql as cents

CATEGORIES = tuple(c.value for c in Category)
SCHEME_STATUSES = tuple(s.value for s in SchemeStatus)
COVERAGE_STATUSES = tuple(s.value for s in CoverageStatus)
COMMISSION_STATUSES = tuple(s.value for s in CommissionStatus)

# Names the errors of these constraints carry (see `platform.db.violates`); SQLite names the columns.
PAYER_CODE = ("uq_insurance_payers_code", "insurance_payers.code")
PAYER_BIN_PCN = (
    "uq_insurance_payers_bin_pcn",
    "uq_insurance_payers_bin_without_pcn",
    "insurance_payers.bin, insurance_payers.pcn",
    "insurance_payers.bin",
)
SCHEME_CODE = ("uq_insurance_schemes_payer_id_code", "insurance_schemes.payer_id, insurance_schemes.code")
BENEFIT_CATEGORY = (
    "uq_insurance_benefits_scheme_id_category",
    "insurance_benefits.scheme_id, insurance_benefits.category",
)
AGENT_CODE = ("uq_insurance_agents_code", "insurance_agents.code")
MEMBER_ID = ("uq_insurance_coverages_payer_id_member_id", "insurance_coverages.payer_id, insurance_coverages.member_id")


class Versioned:
    """A row edited under If-Match: `version` is SQLAlchemy's version counter (the ETag), and the row keeps when it
    was created and last changed. Its columns come after the table's own."""

    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


class Payer(Versioned, Base):
    """An insurance company. BIN (+ PCN) identify it on a patient's card; a BIN without PCN is its default."""

    __tablename__ = "insurance_payers"
    __table_args__ = (
        CheckConstraint("pcn IS NULL OR bin IS NOT NULL", name="pcn_needs_bin"),
        UniqueConstraint("bin", "pcn", name="uq_insurance_payers_bin_pcn"),
        # (bin, NULL) rows are not equal to each other for UNIQUE: one payer per bare BIN.
        partial_index("uq_insurance_payers_bin_without_pcn", "bin", unique=True, where="pcn IS NULL"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    bin: Mapped[str | None] = mapped_column(String(6))
    pcn: Mapped[str | None] = mapped_column(String(10))


class Scheme(Versioned, Base):
    __tablename__ = "insurance_schemes"
    __table_args__ = (
        CheckConstraint(f"status IN ({quoted_list(SCHEME_STATUSES)})", name="status_known"),
        UniqueConstraint("payer_id", "code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    payer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_payers.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))


class Benefit(Versioned, Base):
    """What a scheme pays for one category (one per category per scheme). Its terms are dated: they live in
    `BenefitTerms`, and a service is judged by the terms in force on its date."""

    __tablename__ = "insurance_benefits"
    __table_args__ = (
        CheckConstraint(f"category IN ({quoted_list(CATEGORIES)})", name="category_known"),
        UniqueConstraint("scheme_id", "category"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_schemes.id"))
    category: Mapped[str] = mapped_column(String(20))


class BenefitTerms(Base):
    """A benefit's terms from `effective_from` on (until the next terms' date). Never deleted: the terms of any
    past service date stay readable. One set of terms per benefit and date."""

    __tablename__ = "insurance_benefit_terms"
    __table_args__ = (
        CheckConstraint(f"{cents('coverage_percent')} BETWEEN 0 AND 10000", name="coverage_percent_range"),
        CheckConstraint(
            f"{cents('copay_amount')} >= 0 AND {cents('deductible')} >= 0"
            f" AND (annual_limit IS NULL OR {cents('annual_limit')} >= 0)",
            name="money_not_negative",
        ),
        UniqueConstraint("benefit_id", "effective_from"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    benefit_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_benefits.id"))
    effective_from: Mapped[date] = mapped_column(Date)
    coverage_percent: Mapped[Decimal] = mapped_column(Money)
    copay_amount: Mapped[Decimal] = mapped_column(Money)
    deductible: Mapped[Decimal] = mapped_column(Money)
    annual_limit: Mapped[Decimal | None] = mapped_column(Money)
    requires_preauth: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the user; None: the system (a migration)


class PremiumRate(Versioned, Base):
    """A monthly premium for an age band (inclusive; `max_age` NULL: that age and over). Bands of a scheme
    never overlap: checked under the scheme's row lock."""

    __tablename__ = "insurance_premium_rates"
    __table_args__ = (
        CheckConstraint(
            "min_age >= 0 AND min_age <= 150 AND (max_age IS NULL OR (max_age >= min_age AND max_age <= 150))",
            name="age_band_valid",
        ),
        CheckConstraint(f"{cents('monthly_premium')} >= 0", name="premium_not_negative"),
        Index("ix_insurance_premium_rates_scheme_id_min_age", "scheme_id", "min_age"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_schemes.id"))
    min_age: Mapped[int] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)
    monthly_premium: Mapped[Decimal] = mapped_column(Money)


class Coverage(Versioned, Base):
    """A patient's membership in a scheme. `payer_id` is the scheme's, kept here so a member id is unique per payer.
    The patient is another context's id, never a foreign key."""

    __tablename__ = "insurance_coverages"
    __table_args__ = (
        CheckConstraint(f"status IN ({quoted_list(COVERAGE_STATUSES)})", name="status_known"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
        UniqueConstraint("payer_id", "member_id"),
        Index("ix_insurance_coverages_patient_id", "patient_id"),
        Index("ix_insurance_coverages_member_id", "member_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_schemes.id"))
    payer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_payers.id"))
    member_id: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("insurance.insurance_agents.id"))


class Preauthorization(Base):
    """An approved pre-authorisation: services of `category` between the dates (and up to `max_amount`)."""

    __tablename__ = "insurance_preauthorizations"
    __table_args__ = (
        CheckConstraint(f"category IN ({quoted_list(CATEGORIES)})", name="category_known"),
        CheckConstraint("valid_to >= valid_from", name="valid_range"),
        CheckConstraint(f"max_amount IS NULL OR {cents('max_amount')} >= 0", name="max_amount_not_negative"),
        CheckConstraint("status IN ('approved')", name="status_known"),
        Index("ix_insurance_preauthorizations_coverage_id_category", "coverage_id", "category"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    coverage_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_coverages.id"))
    category: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    max_amount: Mapped[Decimal | None] = mapped_column(Money)
    reference: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Accumulator(Base):
    """Deductible met and annual limit used per (coverage, category, benefit year). The benefit's deductible and
    limit are copied in when the row is created, so the CHECKs can hold the totals within them."""

    __tablename__ = "insurance_accumulators"
    __table_args__ = (
        CheckConstraint(f"category IN ({quoted_list(CATEGORIES)})", name="category_known"),
        CheckConstraint(
            f"{cents('deductible_met')} >= 0 AND {cents('deductible_met')} <= {cents('deductible')}",
            name="deductible_met_within",
        ),
        CheckConstraint(
            f"{cents('limit_used')} >= 0"
            f" AND (annual_limit IS NULL OR {cents('limit_used')} <= {cents('annual_limit')})",
            name="limit_used_within",
        ),
        UniqueConstraint("coverage_id", "category", "benefit_year"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    coverage_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_coverages.id"))
    category: Mapped[str] = mapped_column(String(20))
    benefit_year: Mapped[int] = mapped_column(Integer)
    deductible: Mapped[Decimal] = mapped_column(Money)
    annual_limit: Mapped[Decimal | None] = mapped_column(Money)
    deductible_met: Mapped[Decimal] = mapped_column(Money)
    limit_used: Mapped[Decimal] = mapped_column(Money)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Agent(Versioned, Base):
    """A sales agent who brings in coverages; earns `commission_percent` of each premium paid for them."""

    __tablename__ = "insurance_agents"
    __table_args__ = (CheckConstraint(f"{cents('commission_percent')} BETWEEN 0 AND 10000", name="percent_range"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    commission_percent: Mapped[Decimal] = mapped_column(Money)


class PremiumBilling(Base):
    """A coverage's premium for one month, billed once: billing answers each with an invoice of kind `premium`
    (`invoice_id` once its invoice.issued arrives). The agent and their percent are those of the day it was billed."""

    __tablename__ = "insurance_premium_billings"
    __table_args__ = (
        CheckConstraint(f"{cents('amount')} >= 0", name="amount_not_negative"),
        CheckConstraint(
            f"commission_percent IS NULL OR {cents('commission_percent')} BETWEEN 0 AND 10000",
            name="percent_range",
        ),
        CheckConstraint("(agent_id IS NULL) = (commission_percent IS NULL)", name="percent_with_agent"),
        UniqueConstraint("coverage_id", "period"),
        Index("ix_insurance_premium_billings_period", "period"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    coverage_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_coverages.id"))
    period: Mapped[str] = mapped_column(String(7))
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_schemes.id"))
    premium_rate_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_premium_rates.id"))
    age: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("insurance.insurance_agents.id"))
    commission_percent: Mapped[Decimal | None] = mapped_column(Money)
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # billing's, by id
    billed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CommissionPayout(Base):
    """What an agent was paid for one period: the commissions it settled point to it."""

    __tablename__ = "insurance_commission_payouts"
    __table_args__ = (
        CheckConstraint(f"{cents('amount')} >= 0", name="amount_not_negative"),
        Index("ix_insurance_commission_payouts_agent_id_period", "agent_id", "period"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_agents.id"))
    period: Mapped[str] = mapped_column(String(7))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class Commission(Base):
    """An agent's share of one paid premium invoice: accrued once per invoice, paid by one payout."""

    __tablename__ = "insurance_commissions"
    __table_args__ = (
        CheckConstraint(f"status IN ({quoted_list(COMMISSION_STATUSES)})", name="status_known"),
        CheckConstraint(f"{cents('amount')} >= 0", name="amount_not_negative"),
        CheckConstraint("(status = 'paid') = (payout_id IS NOT NULL)", name="paid_by_a_payout"),
        UniqueConstraint("invoice_id"),
        UniqueConstraint("premium_billing_id"),
        Index("ix_insurance_commissions_agent_id_period_status", "agent_id", "period", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_agents.id"))
    invoice_id: Mapped[uuid.UUID] = mapped_column(Uuid)  # billing's, by id
    premium_billing_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_premium_billings.id"))
    period: Mapped[str] = mapped_column(String(7))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    payout_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("insurance.insurance_commission_payouts.id"))
    accrued_at: Mapped[datetime] = mapped_column(UTCDateTime)
