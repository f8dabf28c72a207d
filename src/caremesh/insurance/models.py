from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from caremesh.insurance.domain import Category, CoverageStatus, SchemeStatus
from caremesh.platform.db import Base, Money, UTCDateTime, new_id, partial_index, quoted_list
from caremesh.platform.money import cents_sql as cents

CATEGORIES = tuple(c.value for c in Category)
SCHEME_STATUSES = tuple(s.value for s in SchemeStatus)
COVERAGE_STATUSES = tuple(s.value for s in CoverageStatus)

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


class Payer(Base):
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


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


class Benefit(Base):
    """What a scheme pays for one category. One per category per scheme."""

    __tablename__ = "insurance_benefits"
    __table_args__ = (
        CheckConstraint(f"category IN ({quoted_list(CATEGORIES)})", name="category_known"),
        CheckConstraint(f"{cents('coverage_percent')} BETWEEN 0 AND 10000", name="coverage_percent_range"),
        CheckConstraint(
            f"{cents('copay_amount')} >= 0 AND {cents('deductible')} >= 0"
            f" AND (annual_limit IS NULL OR {cents('annual_limit')} >= 0)",
            name="money_not_negative",
        ),
        UniqueConstraint("scheme_id", "category"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    scheme_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("insurance.insurance_schemes.id"))
    category: Mapped[str] = mapped_column(String(20))
    coverage_percent: Mapped[Decimal] = mapped_column(Money)
    copay_amount: Mapped[Decimal] = mapped_column(Money)
    deductible: Mapped[Decimal] = mapped_column(Money)
    annual_limit: Mapped[Decimal | None] = mapped_column(Money)
    requires_preauth: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PremiumRate(Base):
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
