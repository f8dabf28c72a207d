"""Insurance edits, premium billing, agents and commissions (issue 16).

- Payers, benefits and premium rates carry `version` (the ETag of their PATCH) and `updated_at`; coverages name an
  optional `agent_id`.
- A benefit's terms move to `insurance_benefit_terms`, one row per (benefit, effective_from): the terms a benefit
  had become its first row, effective from the day it was created (and, as the first terms, also before it).
- `insurance_agents`, `insurance_premium_billings` (one per coverage and period), `insurance_commissions` (one
  per invoice) and `insurance_commission_payouts`.

Columns added NOT NULL to rows that exist take a default for those rows; PostgreSQL drops it afterwards, SQLite
(which cannot drop a default in place) keeps it: the code always sets them. SQLite rebuilds `insurance_benefits`
in batch mode (nothing references it before its terms table is created); its terms are kept aside meanwhile.

Revision ID: 0027_insurance_edits_premiums
Revises: 0026_payment_methods_settlements
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from caremesh.migrations.context_schemas import physical_schema

revision: str = "0027_insurance_edits_premiums"
down_revision: str | None = "0026_payment_methods_settlements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=14, scale=2).with_variant(sa.String(length=24), "sqlite")
WHEN = sa.DateTime(timezone=True)
TERMS = ("coverage_percent", "copay_amount", "deductible", "annual_limit", "requires_preauth")
VERSIONED = ("insurance_payers", "insurance_benefits", "insurance_premium_rates")
EPOCH = "1970-01-01 00:00:00.000000"


def cents(column: str) -> str:
    return f"CAST(ROUND(CAST({column} AS NUMERIC) * 100) AS BIGINT)"


PERCENT = "BETWEEN 0 AND 10000"
TERMS_CHECKS = (
    ("coverage_percent_range", f"{cents('coverage_percent')} {PERCENT}"),
    (
        "money_not_negative",
        f"{cents('copay_amount')} >= 0 AND {cents('deductible')} >= 0"
        f" AND (annual_limit IS NULL OR {cents('annual_limit')} >= 0)",
    ),
)


def _ref(schema: str | None, column: str) -> str:
    return f"{schema}.{column}" if schema else column


def _table(schema: str | None, table: str) -> str:
    return f'"{schema}".{table}' if schema else table


def _add_versioned(schema: str | None, table: str) -> None:
    op.add_column(table, sa.Column("version", sa.Integer(), nullable=False, server_default="1"), schema=schema)
    op.add_column(table, sa.Column("updated_at", WHEN, nullable=False, server_default=EPOCH), schema=schema)
    op.execute(f"UPDATE {_table(schema, table)} SET updated_at = created_at")
    if schema is not None:
        op.alter_column(table, "version", server_default=None, schema=schema)
        op.alter_column(table, "updated_at", server_default=None, schema=schema)


def upgrade() -> None:
    schema = physical_schema("insurance")
    # Benefits: every row's terms aside, then the table without them (and versioned), then the terms table.
    op.execute(
        "CREATE TEMPORARY TABLE benefit_terms_kept AS"
        f" SELECT id, created_at, {', '.join(TERMS)} FROM {_table(schema, 'insurance_benefits')}"
    )
    _add_versioned(schema, "insurance_payers")
    _add_versioned(schema, "insurance_premium_rates")
    _add_versioned(schema, "insurance_benefits")
    if schema is None:
        with op.batch_alter_table("insurance_benefits") as batch:
            for name, _ in TERMS_CHECKS:
                batch.drop_constraint(op.f(f"ck_insurance_benefits_{name}"), type_="check")
            for column in TERMS:
                batch.drop_column(column)
    else:
        for name, _ in TERMS_CHECKS:
            op.drop_constraint(op.f(f"ck_insurance_benefits_{name}"), "insurance_benefits", schema=schema)
        for column in TERMS:
            op.drop_column("insurance_benefits", column, schema=schema)
    op.create_table(
        "insurance_benefit_terms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("benefit_id", sa.Uuid(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("coverage_percent", MONEY, nullable=False),
        sa.Column("copay_amount", MONEY, nullable=False),
        sa.Column("deductible", MONEY, nullable=False),
        sa.Column("annual_limit", MONEY, nullable=True),
        sa.Column("requires_preauth", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", WHEN, nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        *(sa.CheckConstraint(sql, name=op.f(f"ck_insurance_benefit_terms_{name}")) for name, sql in TERMS_CHECKS),
        sa.ForeignKeyConstraint(
            ["benefit_id"],
            [_ref(schema, "insurance_benefits.id")],
            name=op.f("fk_insurance_benefit_terms_benefit_id_insurance_benefits"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_benefit_terms")),
        sa.UniqueConstraint(
            "benefit_id", "effective_from", name=op.f("uq_insurance_benefit_terms_benefit_id_effective_from")
        ),
        schema=schema,
    )
    _copy_terms(schema)
    op.execute("DROP TABLE benefit_terms_kept")
    _create_agents_and_premiums(schema)


def _copy_terms(schema: str | None) -> None:
    """Each benefit's terms, effective from the (UTC) day it was created, recorded by nobody (the system). One
    terms row per benefit: it takes the benefit's id."""
    created_on = "substr(created_at, 1, 10)" if schema is None else "CAST(created_at AT TIME ZONE 'UTC' AS DATE)"
    columns = ", ".join(TERMS)
    op.execute(
        f"INSERT INTO {_table(schema, 'insurance_benefit_terms')}"
        f" (id, benefit_id, effective_from, {columns}, recorded_at, recorded_by)"
        f" SELECT id, id, {created_on}, {columns}, created_at, NULL FROM benefit_terms_kept"
    )


def _create_agents_and_premiums(schema: str | None) -> None:
    op.create_table(
        "insurance_agents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("commission_percent", MONEY, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.CheckConstraint(f"{cents('commission_percent')} {PERCENT}", name=op.f("ck_insurance_agents_percent_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_agents")),
        sa.UniqueConstraint("code", name=op.f("uq_insurance_agents_code")),
        schema=schema,
    )
    agent_fk = _ref(schema, "insurance_agents.id")
    if schema is None:  # SQLite adds a column with its reference in place (the table keeps its rows and children)
        op.execute("ALTER TABLE insurance_coverages ADD COLUMN agent_id CHAR(32) REFERENCES insurance_agents (id)")
    else:
        op.add_column("insurance_coverages", sa.Column("agent_id", sa.Uuid(), nullable=True), schema=schema)
        op.create_foreign_key(
            op.f("fk_insurance_coverages_agent_id_insurance_agents"),
            "insurance_coverages",
            "insurance_agents",
            ["agent_id"],
            ["id"],
            source_schema=schema,
            referent_schema=schema,
        )
    op.create_table(
        "insurance_premium_billings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("coverage_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=False),
        sa.Column("premium_rate_id", sa.Uuid(), nullable=False),
        sa.Column("age", sa.Integer(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("commission_percent", MONEY, nullable=True),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("billed_at", WHEN, nullable=False),
        sa.CheckConstraint(f"{cents('amount')} >= 0", name=op.f("ck_insurance_premium_billings_amount_not_negative")),
        sa.CheckConstraint(
            f"commission_percent IS NULL OR {cents('commission_percent')} {PERCENT}",
            name=op.f("ck_insurance_premium_billings_percent_range"),
        ),
        sa.CheckConstraint(
            "(agent_id IS NULL) = (commission_percent IS NULL)",
            name=op.f("ck_insurance_premium_billings_percent_with_agent"),
        ),
        sa.ForeignKeyConstraint(
            ["coverage_id"],
            [_ref(schema, "insurance_coverages.id")],
            name=op.f("fk_insurance_premium_billings_coverage_id_insurance_coverages"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            [_ref(schema, "insurance_schemes.id")],
            name=op.f("fk_insurance_premium_billings_scheme_id_insurance_schemes"),
        ),
        sa.ForeignKeyConstraint(
            ["premium_rate_id"],
            [_ref(schema, "insurance_premium_rates.id")],
            name=op.f("fk_insurance_premium_billings_premium_rate_id_insurance_premium_rates"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], [agent_fk], name=op.f("fk_insurance_premium_billings_agent_id_insurance_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_premium_billings")),
        sa.UniqueConstraint("coverage_id", "period", name=op.f("uq_insurance_premium_billings_coverage_id_period")),
        schema=schema,
    )
    op.create_index(
        op.f("ix_insurance_premium_billings_period"), "insurance_premium_billings", ["period"], schema=schema
    )
    op.create_table(
        "insurance_commission_payouts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_at", WHEN, nullable=False),
        sa.Column("paid_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(f"{cents('amount')} >= 0", name=op.f("ck_insurance_commission_payouts_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["agent_id"], [agent_fk], name=op.f("fk_insurance_commission_payouts_agent_id_insurance_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_commission_payouts")),
        schema=schema,
    )
    op.create_index(
        op.f("ix_insurance_commission_payouts_agent_id_period"),
        "insurance_commission_payouts",
        ["agent_id", "period"],
        schema=schema,
    )
    op.create_table(
        "insurance_commissions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("premium_billing_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("payout_id", sa.Uuid(), nullable=True),
        sa.Column("accrued_at", WHEN, nullable=False),
        sa.CheckConstraint("status IN ('accrued', 'paid')", name=op.f("ck_insurance_commissions_status_known")),
        sa.CheckConstraint(f"{cents('amount')} >= 0", name=op.f("ck_insurance_commissions_amount_not_negative")),
        sa.CheckConstraint(
            "(status = 'paid') = (payout_id IS NOT NULL)", name=op.f("ck_insurance_commissions_paid_by_a_payout")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], [agent_fk], name=op.f("fk_insurance_commissions_agent_id_insurance_agents")
        ),
        sa.ForeignKeyConstraint(
            ["premium_billing_id"],
            [_ref(schema, "insurance_premium_billings.id")],
            name=op.f("fk_insurance_commissions_premium_billing_id_insurance_premium_billings"),
        ),
        sa.ForeignKeyConstraint(
            ["payout_id"],
            [_ref(schema, "insurance_commission_payouts.id")],
            name=op.f("fk_insurance_commissions_payout_id_insurance_commission_payouts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_commissions")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_insurance_commissions_invoice_id")),
        sa.UniqueConstraint("premium_billing_id", name=op.f("uq_insurance_commissions_premium_billing_id")),
        schema=schema,
    )
    op.create_index(
        op.f("ix_insurance_commissions_agent_id_period_status"),
        "insurance_commissions",
        ["agent_id", "period", "status"],
        schema=schema,
    )


def downgrade() -> None:
    """Agents, premiums and commissions go; each benefit gets back the terms in force on its latest date (its
    history is lost); the versions go."""
    schema = physical_schema("insurance")
    for table in ("insurance_commissions", "insurance_commission_payouts", "insurance_premium_billings"):
        op.drop_table(table, schema=schema)
    if schema is None:
        op.execute("ALTER TABLE insurance_coverages DROP COLUMN agent_id")
    else:
        op.drop_constraint(
            op.f("fk_insurance_coverages_agent_id_insurance_agents"), "insurance_coverages", schema=schema
        )
        op.drop_column("insurance_coverages", "agent_id", schema=schema)
    op.drop_table("insurance_agents", schema=schema)
    latest = (
        f"SELECT t.benefit_id, {', '.join(f't.{c}' for c in TERMS)} FROM {_table(schema, 'insurance_benefit_terms')} t"
        " WHERE t.effective_from = (SELECT MAX(l.effective_from)"
        f" FROM {_table(schema, 'insurance_benefit_terms')} l WHERE l.benefit_id = t.benefit_id)"
    )
    op.execute(f"CREATE TEMPORARY TABLE benefit_terms_kept AS {latest}")
    op.drop_table("insurance_benefit_terms", schema=schema)
    columns = [
        sa.Column("coverage_percent", MONEY, nullable=False, server_default="0"),
        sa.Column("copay_amount", MONEY, nullable=False, server_default="0"),
        sa.Column("deductible", MONEY, nullable=False, server_default="0"),
        sa.Column("annual_limit", MONEY, nullable=True),
        sa.Column("requires_preauth", sa.Boolean(), nullable=False, server_default=sa.false()),
    ]
    for column in columns:
        op.add_column("insurance_benefits", column, schema=schema)
    benefits = _table(schema, "insurance_benefits")
    assignments = ", ".join(
        f"{c} = (SELECT k.{c} FROM benefit_terms_kept k WHERE k.benefit_id = {benefits}.id)" for c in TERMS
    )
    op.execute(f"UPDATE {benefits} SET {assignments}")
    op.execute("DROP TABLE benefit_terms_kept")
    for table in VERSIONED:
        if schema is None:
            op.execute(f"ALTER TABLE {table} DROP COLUMN version")
            op.execute(f"ALTER TABLE {table} DROP COLUMN updated_at")
        else:
            op.drop_column(table, "version", schema=schema)
            op.drop_column(table, "updated_at", schema=schema)
    if schema is None:
        with op.batch_alter_table("insurance_benefits") as batch:
            for name, sql in TERMS_CHECKS:
                batch.create_check_constraint(op.f(f"ck_insurance_benefits_{name}"), sa.text(sql))
    else:
        for name, sql in TERMS_CHECKS:
            op.create_check_constraint(op.f(f"ck_insurance_benefits_{name}"), "insurance_benefits", sql, schema=schema)
