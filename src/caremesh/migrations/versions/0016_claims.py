"""Claims: claims with their lines and history, disputes, and payers' remittances with their items.

Money is NUMERIC(14,2) on PostgreSQL and text on SQLite (see platform.db.Money), so the CHECKs compare integer
cents.

Revision ID: 0016_claims
Revises: 0015_invoice_kind_service_date
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_claims"
down_revision: str | None = "0015_invoice_kind_service_date"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=14, scale=2).with_variant(sa.String(length=24), "sqlite")


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_number", sa.String(length=20), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=True),
        sa.Column("payer_id", sa.Uuid(), nullable=False),
        sa.Column("payer_code", sa.String(length=40), nullable=False),
        sa.Column("coverage_id", sa.Uuid(), nullable=True),
        sa.Column("member_id", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_charge", MONEY, nullable=False),
        sa.Column("claimed_amount", MONEY, nullable=False),
        sa.Column("approved_amount", MONEY, nullable=True),
        sa.Column("paid_amount", MONEY, nullable=False),
        sa.Column("recorded_deductible", MONEY, nullable=False),
        sa.Column("recorded_payer_amount", MONEY, nullable=False),
        sa.Column("diagnosis_codes", sa.JSON(), nullable=False),
        sa.Column("rejection_reason_code", sa.String(length=5), nullable=True),
        sa.Column("rejection_reason", sa.String(length=500), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("adjudicated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(status IN ('draft', 'submitted')) = (approved_amount IS NULL)",
            name=op.f("ck_claims_approved_amount_once_decided"),
        ),
        sa.CheckConstraint(
            "category IN ('consultation', 'lab', 'pharmacy', 'procedure')", name=op.f("ck_claims_category_known")
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'partially_approved', 'rejected', 'paid')",
            name=op.f("ck_claims_status_known"),
        ),
        sa.CheckConstraint(
            "CAST(ROUND(CAST(claimed_amount AS NUMERIC) * 100) AS BIGINT) <= CAST(ROUND(CAST(total_charge AS NUMERIC) * 100) AS BIGINT)",
            name=op.f("ck_claims_claimed_within_charge"),
        ),
        sa.CheckConstraint(
            "CAST(ROUND(CAST(claimed_amount AS NUMERIC) * 100) AS BIGINT) > 0", name=op.f("ck_claims_claimed_positive")
        ),
        sa.CheckConstraint(
            "CAST(ROUND(CAST(paid_amount AS NUMERIC) * 100) AS BIGINT) >= 0 AND CAST(ROUND(CAST(paid_amount AS NUMERIC) * 100) AS BIGINT) <= COALESCE(CAST(ROUND(CAST(approved_amount AS NUMERIC) * 100) AS BIGINT), 0)",
            name=op.f("ck_claims_paid_within_approved"),
        ),
        sa.CheckConstraint(
            "CAST(ROUND(CAST(recorded_deductible AS NUMERIC) * 100) AS BIGINT) >= 0 AND CAST(ROUND(CAST(recorded_payer_amount AS NUMERIC) * 100) AS BIGINT) >= 0",
            name=op.f("ck_claims_recorded_not_negative"),
        ),
        sa.CheckConstraint(
            "approved_amount IS NULL OR (CAST(ROUND(CAST(approved_amount AS NUMERIC) * 100) AS BIGINT) >= 0 AND CAST(ROUND(CAST(approved_amount AS NUMERIC) * 100) AS BIGINT) <= CAST(ROUND(CAST(claimed_amount AS NUMERIC) * 100) AS BIGINT))",
            name=op.f("ck_claims_approved_within_claimed"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("number", name=op.f("uq_claims_number")),
    )
    op.create_index("ix_claims_duplicates", "claims", ["member_id", "service_date"], unique=False)
    op.create_index("ix_claims_patient_id", "claims", ["patient_id"], unique=False)
    op.create_index("ix_claims_status_created_at", "claims", ["status", "created_at"], unique=False)
    op.create_index(
        "uq_claims_open_invoice",
        "claims",
        ["invoice_id"],
        unique=True,
        sqlite_where=sa.text("status <> 'rejected'"),
        postgresql_where=sa.text("status <> 'rejected'"),
    )
    op.create_table(
        "remittances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("remittance_id", sa.String(length=50), nullable=False),
        sa.Column("payer_code", sa.String(length=80), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("paid_total", MONEY, nullable=False),
        sa.Column("posted_amount", MONEY, nullable=False),
        sa.Column("unmatched_amount", MONEY, nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.CheckConstraint("format IN ('json', 'x12_835')", name=op.f("ck_remittances_format_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittances")),
    )
    op.create_index("ix_remittances_received_at", "remittances", ["received_at"], unique=False)
    op.create_index(
        "uq_remittances_payer_code_remittance_id", "remittances", ["payer_code", "remittance_id"], unique=True
    )
    op.create_table(
        "claim_disputes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("approved_amount", MONEY, nullable=True),
        sa.Column("resolution_note", sa.String(length=1000), nullable=True),
        sa.Column("opened_by", sa.Uuid(), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'resolved') = (outcome IS NOT NULL)", name=op.f("ck_claim_disputes_resolved_has_outcome")
        ),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('upheld', 'overturned')", name=op.f("ck_claim_disputes_outcome_known")
        ),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_claim_disputes_status_known")),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_claim_disputes_claim_id_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_disputes")),
    )
    op.create_index("ix_claim_disputes_claim_id_created_at", "claim_disputes", ["claim_id", "created_at"], unique=False)
    op.create_index(
        "uq_claim_disputes_open_claim",
        "claim_disputes",
        ["claim_id"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "claim_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("approved_amount", MONEY, nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_history_claim_id_claims"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_history")),
    )
    op.create_index(
        "ix_claim_history_claim_id_occurred_at", "claim_history", ["claim_id", "occurred_at", "sequence"], unique=False
    )
    op.create_table(
        "claim_lines",
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("charge_amount", MONEY, nullable=False),
        sa.Column("claimed_amount", MONEY, nullable=False),
        sa.Column("approved_amount", MONEY, nullable=True),
        sa.Column("adjustments", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "CAST(ROUND(CAST(claimed_amount AS NUMERIC) * 100) AS BIGINT) <= CAST(ROUND(CAST(charge_amount AS NUMERIC) * 100) AS BIGINT)",
            name=op.f("ck_claim_lines_claimed_within_charge"),
        ),
        sa.CheckConstraint(
            "CAST(ROUND(CAST(claimed_amount AS NUMERIC) * 100) AS BIGINT) >= 0",
            name=op.f("ck_claim_lines_claimed_not_negative"),
        ),
        sa.CheckConstraint(
            "approved_amount IS NULL OR (CAST(ROUND(CAST(approved_amount AS NUMERIC) * 100) AS BIGINT) >= 0 AND CAST(ROUND(CAST(approved_amount AS NUMERIC) * 100) AS BIGINT) <= CAST(ROUND(CAST(claimed_amount AS NUMERIC) * 100) AS BIGINT))",
            name=op.f("ck_claim_lines_approved_within_claimed"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_claim_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_lines_claim_id_claims"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("claim_id", "position", name=op.f("pk_claim_lines")),
    )
    op.create_table(
        "remittance_items",
        sa.Column("remittance_pk", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("claim_number", sa.String(length=40), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=True),
        sa.Column("paid_amount", MONEY, nullable=False),
        sa.Column("adjustment_codes", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.CheckConstraint("outcome IN ('posted', 'unmatched')", name=op.f("ck_remittance_items_outcome_known")),
        sa.CheckConstraint(
            "CAST(ROUND(CAST(paid_amount AS NUMERIC) * 100) AS BIGINT) >= 0",
            name=op.f("ck_remittance_items_paid_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["remittance_pk"],
            ["remittances.id"],
            name=op.f("fk_remittance_items_remittance_pk_remittances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("remittance_pk", "position", name=op.f("pk_remittance_items")),
    )
    op.create_index("ix_remittance_items_claim_id", "remittance_items", ["claim_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_remittance_items_claim_id", table_name="remittance_items")
    op.drop_table("remittance_items")
    op.drop_table("claim_lines")
    op.drop_index("ix_claim_history_claim_id_occurred_at", table_name="claim_history")
    op.drop_table("claim_history")
    op.drop_index(
        "uq_claim_disputes_open_claim",
        table_name="claim_disputes",
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_index("ix_claim_disputes_claim_id_created_at", table_name="claim_disputes")
    op.drop_table("claim_disputes")
    op.drop_index("uq_remittances_payer_code_remittance_id", table_name="remittances")
    op.drop_index("ix_remittances_received_at", table_name="remittances")
    op.drop_table("remittances")
    op.drop_index(
        "uq_claims_open_invoice",
        table_name="claims",
        sqlite_where=sa.text("status <> 'rejected'"),
        postgresql_where=sa.text("status <> 'rejected'"),
    )
    op.drop_index("ix_claims_status_created_at", table_name="claims")
    op.drop_index("ix_claims_patient_id", table_name="claims")
    op.drop_index("ix_claims_duplicates", table_name="claims")
    op.drop_table("claims")
