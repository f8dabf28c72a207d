"""Billing: tariffs, invoices and their lines.

Money columns are `Money` (NUMERIC(14,2) on PostgreSQL, text on SQLite), so every CHECK that
compares money converts it to whole cents first. Rates are integer basis points (0.12 = 1200).

Revision ID: 0007_billing
Revises: 0006_scheduling
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from caremesh.platform.db import Money

revision: str = "0007_billing"
down_revision: str | None = "0006_scheduling"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INVOICE_MONEY = (
    "subtotal",
    "discount_amount",
    "tax_amount",
    "total",
    "insurance_amount",
    "patient_amount",
    "amount_paid",
    "amount_pending",
    "insurance_paid",
)


def cents(column: str) -> str:
    return f"CAST(ROUND(CAST({column} AS NUMERIC) * 100) AS BIGINT)"


def upgrade() -> None:
    op.create_table(
        "tariffs",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("specialty", sa.String(length=50), nullable=True),
        sa.Column("pricing", sa.JSON(), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('consultation', 'lab', 'medication', 'procedure')", name=op.f("ck_tariffs_kind_known")
        ),
        sa.CheckConstraint("tax_rate_bp BETWEEN 0 AND 10000", name=op.f("ck_tariffs_tax_rate_range")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_tariffs")),
    )
    op.create_index(
        "uq_tariffs_consultation_specialty",
        "tariffs",
        ["specialty"],
        unique=True,
        sqlite_where=sa.text("kind = 'consultation'"),
        postgresql_where=sa.text("kind = 'consultation'"),
    )

    paid, pending, patient = cents("amount_paid"), cents("amount_pending"), cents("patient_amount")
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("practitioner_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal", Money(), nullable=False),
        sa.Column("discount_percent", sa.Integer(), nullable=False),
        sa.Column("discount_amount", Money(), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False),
        sa.Column("tax_amount", Money(), nullable=False),
        sa.Column("total", Money(), nullable=False),
        sa.Column("coverage_bp", sa.Integer(), nullable=False),
        sa.Column("insurance_amount", Money(), nullable=False),
        sa.Column("patient_amount", Money(), nullable=False),
        sa.Column("amount_paid", Money(), nullable=False),
        sa.Column("amount_pending", Money(), nullable=False),
        sa.Column("insurance_paid", Money(), nullable=False),
        sa.Column("insurance_bin", sa.String(length=6), nullable=True),
        sa.Column("insurance_pcn", sa.String(length=10), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('issued', 'partially_paid', 'paid', 'void')", name=op.f("ck_invoices_status_known")
        ),
        sa.CheckConstraint(
            " AND ".join(f"{cents(m)} >= 0" for m in INVOICE_MONEY), name=op.f("ck_invoices_amounts_not_negative")
        ),
        sa.CheckConstraint(f"{paid} >= 0", name=op.f("ck_invoices_amount_paid_not_negative")),
        sa.CheckConstraint(f"{pending} >= 0", name=op.f("ck_invoices_amount_pending_not_negative")),
        sa.CheckConstraint(f"{paid} + {pending} <= {patient}", name=op.f("ck_invoices_payments_within_patient_amount")),
        sa.CheckConstraint(
            f"{cents('insurance_paid')} <= {cents('insurance_amount')}", name=op.f("ck_invoices_insurance_paid_within")
        ),
        sa.CheckConstraint(
            f"{cents('subtotal')} - {cents('discount_amount')} + {cents('tax_amount')} = {cents('total')}",
            name=op.f("ck_invoices_total_adds_up"),
        ),
        sa.CheckConstraint(
            f"{cents('insurance_amount')} + {patient} = {cents('total')}", name=op.f("ck_invoices_split_adds_up")
        ),
        sa.CheckConstraint("discount_percent BETWEEN 0 AND 100", name=op.f("ck_invoices_discount_percent_range")),
        sa.CheckConstraint("tax_rate_bp BETWEEN 0 AND 10000", name=op.f("ck_invoices_tax_rate_range")),
        sa.CheckConstraint("coverage_bp BETWEEN 0 AND 10000", name=op.f("ck_invoices_coverage_range")),
        sa.CheckConstraint(
            f"(status = 'void' AND {paid} = 0 AND {pending} = 0)"
            f" OR (status = 'issued' AND {paid} = 0 AND {patient} > 0)"
            f" OR (status = 'partially_paid' AND {paid} > 0 AND {paid} < {patient})"
            f" OR (status = 'paid' AND {paid} = {patient})",
            name=op.f("ck_invoices_status_matches_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_invoices_appointment_id")),
        sa.UniqueConstraint("order_id", name=op.f("uq_invoices_order_id")),
    )
    op.create_index("ix_invoices_patient_number", "invoices", ["patient_id", "number"])
    op.create_index("ix_invoices_issued_at", "invoices", ["issued_at"])

    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", Money(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_invoice_lines_quantity_positive")),
        sa.CheckConstraint(f"{cents('unit_price')} >= 0", name=op.f("ck_invoice_lines_unit_price_not_negative")),
        sa.CheckConstraint(
            f"{cents('amount')} = quantity * {cents('unit_price')}",
            name=op.f("ck_invoice_lines_amount_is_quantity_times_price"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_lines_invoice_id_invoices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("invoice_id", "position", name=op.f("pk_invoice_lines")),
    )


def downgrade() -> None:
    op.drop_table("invoice_lines")
    op.drop_index("ix_invoices_issued_at", table_name="invoices")
    op.drop_index("ix_invoices_patient_number", table_name="invoices")
    op.drop_table("invoices")
    op.drop_index("uq_tariffs_consultation_specialty", table_name="tariffs")
    op.drop_table("tariffs")
