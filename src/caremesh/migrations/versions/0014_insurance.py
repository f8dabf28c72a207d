"""Insurance: payers, schemes, benefits, premium rates, coverages, pre-authorisations and accumulators.

Money is NUMERIC(14,2) on PostgreSQL and text on SQLite (see platform.db.Money), so the CHECKs compare integer
cents. Accumulators carry a copy of the benefit's deductible and limit so their CHECKs can bound the totals.

Revision ID: 0014_insurance
Revises: 0013_idempotency_in_progress
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_insurance"
down_revision: str | None = "0013_idempotency_in_progress"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=14, scale=2).with_variant(sa.String(length=24), "sqlite")
CATEGORIES = "category IN ('consultation', 'lab', 'pharmacy', 'procedure')"


def cents(column: str) -> str:
    return f"CAST(ROUND(CAST({column} AS NUMERIC) * 100) AS BIGINT)"


def upgrade() -> None:
    op.create_table(
        "insurance_payers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("bin", sa.String(length=6), nullable=True),
        sa.Column("pcn", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("pcn IS NULL OR bin IS NOT NULL", name=op.f("ck_insurance_payers_pcn_needs_bin")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_payers")),
        sa.UniqueConstraint("code", name=op.f("uq_insurance_payers_code")),
        sa.UniqueConstraint("bin", "pcn", name=op.f("uq_insurance_payers_bin_pcn")),
    )
    op.create_index(
        "uq_insurance_payers_bin_without_pcn",
        "insurance_payers",
        ["bin"],
        unique=True,
        sqlite_where=sa.text("pcn IS NULL"),
        postgresql_where=sa.text("pcn IS NULL"),
    )

    op.create_table(
        "insurance_schemes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payer_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f("ck_insurance_schemes_status_known")),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["insurance_payers.id"], name=op.f("fk_insurance_schemes_payer_id_insurance_payers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_schemes")),
        sa.UniqueConstraint("payer_id", "code", name=op.f("uq_insurance_schemes_payer_id_code")),
    )

    op.create_table(
        "insurance_benefits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("coverage_percent", MONEY, nullable=False),
        sa.Column("copay_amount", MONEY, nullable=False),
        sa.Column("deductible", MONEY, nullable=False),
        sa.Column("annual_limit", MONEY, nullable=True),
        sa.Column("requires_preauth", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(CATEGORIES, name=op.f("ck_insurance_benefits_category_known")),
        sa.CheckConstraint(
            f"{cents('coverage_percent')} BETWEEN 0 AND 10000",
            name=op.f("ck_insurance_benefits_coverage_percent_range"),
        ),
        sa.CheckConstraint(
            f"{cents('copay_amount')} >= 0 AND {cents('deductible')} >= 0"
            f" AND (annual_limit IS NULL OR {cents('annual_limit')} >= 0)",
            name=op.f("ck_insurance_benefits_money_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["insurance_schemes.id"], name=op.f("fk_insurance_benefits_scheme_id_insurance_schemes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_benefits")),
        sa.UniqueConstraint("scheme_id", "category", name=op.f("uq_insurance_benefits_scheme_id_category")),
    )

    op.create_table(
        "insurance_premium_rates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("min_age", sa.Integer(), nullable=False),
        sa.Column("max_age", sa.Integer(), nullable=False),
        sa.Column("monthly_premium", MONEY, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "min_age >= 0 AND max_age >= min_age AND max_age <= 150",
            name=op.f("ck_insurance_premium_rates_age_band_valid"),
        ),
        sa.CheckConstraint(
            f"{cents('monthly_premium')} >= 0", name=op.f("ck_insurance_premium_rates_premium_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["insurance_schemes.id"],
            name=op.f("fk_insurance_premium_rates_scheme_id_insurance_schemes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_premium_rates")),
    )
    op.create_index("ix_insurance_premium_rates_scheme_id_min_age", "insurance_premium_rates", ["scheme_id", "min_age"])

    op.create_table(
        "insurance_coverages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("payer_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.String(length=20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'inactive')", name=op.f("ck_insurance_coverages_status_known")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_insurance_coverages_valid_range")
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["insurance_payers.id"], name=op.f("fk_insurance_coverages_payer_id_insurance_payers")
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["insurance_schemes.id"], name=op.f("fk_insurance_coverages_scheme_id_insurance_schemes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_coverages")),
        sa.UniqueConstraint("payer_id", "member_id", name=op.f("uq_insurance_coverages_payer_id_member_id")),
    )
    op.create_index("ix_insurance_coverages_patient_id", "insurance_coverages", ["patient_id"])
    op.create_index("ix_insurance_coverages_member_id", "insurance_coverages", ["member_id"])

    op.create_table(
        "insurance_preauthorizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("coverage_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("max_amount", MONEY, nullable=True),
        sa.Column("reference", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(CATEGORIES, name=op.f("ck_insurance_preauthorizations_category_known")),
        sa.CheckConstraint("valid_to >= valid_from", name=op.f("ck_insurance_preauthorizations_valid_range")),
        sa.CheckConstraint(
            f"max_amount IS NULL OR {cents('max_amount')} >= 0",
            name=op.f("ck_insurance_preauthorizations_max_amount_not_negative"),
        ),
        sa.CheckConstraint("status IN ('approved')", name=op.f("ck_insurance_preauthorizations_status_known")),
        sa.ForeignKeyConstraint(
            ["coverage_id"],
            ["insurance_coverages.id"],
            name=op.f("fk_insurance_preauthorizations_coverage_id_insurance_coverages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_preauthorizations")),
    )
    op.create_index(
        "ix_insurance_preauthorizations_coverage_id_category",
        "insurance_preauthorizations",
        ["coverage_id", "category"],
    )

    op.create_table(
        "insurance_accumulators",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("coverage_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("benefit_year", sa.Integer(), nullable=False),
        sa.Column("deductible", MONEY, nullable=False),
        sa.Column("annual_limit", MONEY, nullable=True),
        sa.Column("deductible_met", MONEY, nullable=False),
        sa.Column("limit_used", MONEY, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(CATEGORIES, name=op.f("ck_insurance_accumulators_category_known")),
        sa.CheckConstraint(
            f"{cents('deductible_met')} >= 0 AND {cents('deductible_met')} <= {cents('deductible')}",
            name=op.f("ck_insurance_accumulators_deductible_met_within"),
        ),
        sa.CheckConstraint(
            f"{cents('limit_used')} >= 0"
            f" AND (annual_limit IS NULL OR {cents('limit_used')} <= {cents('annual_limit')})",
            name=op.f("ck_insurance_accumulators_limit_used_within"),
        ),
        sa.ForeignKeyConstraint(
            ["coverage_id"],
            ["insurance_coverages.id"],
            name=op.f("fk_insurance_accumulators_coverage_id_insurance_coverages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_accumulators")),
        sa.UniqueConstraint(
            "coverage_id",
            "category",
            "benefit_year",
            name=op.f("uq_insurance_accumulators_coverage_id_category_benefit_year"),
        ),
    )


def downgrade() -> None:
    op.drop_table("insurance_accumulators")
    op.drop_index("ix_insurance_preauthorizations_coverage_id_category", table_name="insurance_preauthorizations")
    op.drop_table("insurance_preauthorizations")
    op.drop_index("ix_insurance_coverages_member_id", table_name="insurance_coverages")
    op.drop_index("ix_insurance_coverages_patient_id", table_name="insurance_coverages")
    op.drop_table("insurance_coverages")
    op.drop_index("ix_insurance_premium_rates_scheme_id_min_age", table_name="insurance_premium_rates")
    op.drop_table("insurance_premium_rates")
    op.drop_table("insurance_benefits")
    op.drop_table("insurance_schemes")
    op.drop_index("uq_insurance_payers_bin_without_pcn", table_name="insurance_payers")
    op.drop_table("insurance_payers")
