"""Payments: payments, refunds and idempotency keys.

Money is NUMERIC(14,2) on PostgreSQL and text on SQLite (see platform.db.Money), so the checks on
amounts compare integer cents, which means the same on both.

Revision ID: 0008_payments
Revises: 0007_billing
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_payments"
down_revision: str | None = "0007_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=14, scale=2).with_variant(sa.String(length=24), "sqlite")


def cents(column: str) -> str:
    return f"CAST(ROUND(CAST({column} AS NUMERIC) * 100) AS BIGINT)"


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=True),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("failure_reason", sa.String(length=200), nullable=True),
        sa.Column("gateway_reference", sa.String(length=100), nullable=True),
        sa.Column("refunded_amount", MONEY, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'completed', 'failed')", name=op.f("ck_payments_status_known")),
        sa.CheckConstraint("method IN ('cash', 'card', 'upi', 'bank_transfer')", name=op.f("ck_payments_method_known")),
        sa.CheckConstraint(f"{cents('amount')} > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint(
            f"{cents('refunded_amount')} >= 0 AND {cents('refunded_amount')} <= {cents('amount')}",
            name=op.f("ck_payments_refunds_within_amount"),
        ),
        sa.CheckConstraint(
            f"status = 'completed' OR {cents('refunded_amount')} = 0",
            name=op.f("ck_payments_refunds_only_completed"),
        ),
        sa.CheckConstraint("(status = 'pending') = (reference IS NULL)", name=op.f("ck_payments_reference_when_final")),
        sa.CheckConstraint(
            "(status = 'failed') = (failure_reason IS NOT NULL)",
            name=op.f("ck_payments_failure_reason_when_failed"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("reference", name=op.f("uq_payments_reference")),
    )
    op.create_index("ix_payments_invoice_created", "payments", ["invoice_id", "created_at", "id"])
    op.create_index("ix_payments_patient_created", "payments", ["patient_id", "created_at", "id"])
    op.create_index("ix_payments_created", "payments", ["created_at", "id"])

    op.create_table(
        "refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=True),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("gateway_reference", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'completed')", name=op.f("ck_refunds_status_known")),
        sa.CheckConstraint(f"{cents('amount')} > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint("(status = 'pending') = (reference IS NULL)", name=op.f("ck_refunds_reference_when_final")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("reference", name=op.f("uq_refunds_reference")),
    )
    op.create_index(op.f("ix_refunds_payment_id"), "refunds", ["payment_id"])

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=50), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('in_progress', 'completed', 'released')", name=op.f("ck_idempotency_keys_state_known")
        ),
        sa.CheckConstraint(
            "(state = 'completed') = (response_status IS NOT NULL AND response_body IS NOT NULL)",
            name=op.f("ck_idempotency_keys_response_when_completed"),
        ),
        sa.CheckConstraint("attempt >= 1", name=op.f("ck_idempotency_keys_attempt_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("scope", "principal_id", "key", name=op.f("uq_idempotency_keys_scope_principal_id_key")),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_refunds_payment_id"), table_name="refunds")
    op.drop_table("refunds")
    op.drop_index("ix_payments_created", table_name="payments")
    op.drop_index("ix_payments_patient_created", table_name="payments")
    op.drop_index("ix_payments_invoice_created", table_name="payments")
    op.drop_table("payments")
