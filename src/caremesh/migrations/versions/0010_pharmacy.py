"""Pharmacy: medications with stock and reserved quantities, reservations per order.

The CHECK constraints keep 0 <= reserved_quantity <= stock_quantity. Money is NUMERIC(14,2) on PostgreSQL
and text on SQLite (see platform.db.Money), so the price check compares integer cents.

Revision ID: 0010_pharmacy
Revises: 0009_notifications
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_pharmacy"
down_revision: str | None = "0009_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=14, scale=2).with_variant(sa.String(length=24), "sqlite")


def cents(column: str) -> str:
    return f"CAST(ROUND(CAST({column} AS NUMERIC) * 100) AS BIGINT)"


def upgrade() -> None:
    op.create_table(
        "medications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stock_quantity", sa.Integer(), nullable=False),
        sa.Column("reserved_quantity", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("stock_quantity >= 0", name=op.f("ck_medications_stock_not_negative")),
        sa.CheckConstraint(
            "reserved_quantity >= 0 AND reserved_quantity <= stock_quantity",
            name=op.f("ck_medications_reserved_within_stock"),
        ),
        sa.CheckConstraint(f"{cents('unit_price')} >= 0", name=op.f("ck_medications_unit_price_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medications")),
        sa.UniqueConstraint("code", name=op.f("uq_medications_code")),
    )
    op.create_index("ix_medications_name_id", "medications", ["name", "id"])

    op.create_table(
        "pharmacy_orders",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "closed_by IN ('order.failed', 'order.cancelled')", name=op.f("ck_pharmacy_orders_closed_by_known")
        ),
        sa.CheckConstraint(
            "(closed_at IS NULL) = (closed_by IS NULL)", name=op.f("ck_pharmacy_orders_closed_with_cause")
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_pharmacy_orders")),
    )

    op.create_table(
        "medication_reservations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("medication_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("failure_reason", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispensed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('reserved', 'released', 'dispensed', 'failed')",
            name=op.f("ck_medication_reservations_status_known"),
        ),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_medication_reservations_quantity_positive")),
        sa.CheckConstraint("position >= 1", name=op.f("ck_medication_reservations_position_positive")),
        sa.CheckConstraint(
            "(status = 'failed') = (failure_reason IS NOT NULL)",
            name=op.f("ck_medication_reservations_failure_reason_iff_failed"),
        ),
        sa.CheckConstraint(
            "failure_reason IN ('INSUFFICIENT_STOCK', 'MEDICATION_NOT_FOUND')",
            name=op.f("ck_medication_reservations_failure_reason_known"),
        ),
        sa.CheckConstraint(
            "(status = 'dispensed') = (dispensed_at IS NOT NULL)",
            name=op.f("ck_medication_reservations_dispensed_at_iff_dispensed"),
        ),
        sa.CheckConstraint(
            "(status = 'released') = (released_at IS NOT NULL)",
            name=op.f("ck_medication_reservations_released_at_iff_released"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medication_reservations")),
        sa.UniqueConstraint("order_id", "position", name=op.f("uq_medication_reservations_order_id_position")),
    )
    op.create_index(
        "ix_medication_reservations_created", "medication_reservations", ["created_at", "order_id", "position"]
    )
    op.create_index("ix_medication_reservations_medication", "medication_reservations", ["medication_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_medication_reservations_medication", table_name="medication_reservations")
    op.drop_index("ix_medication_reservations_created", table_name="medication_reservations")
    op.drop_table("medication_reservations")
    op.drop_table("pharmacy_orders")
    op.drop_index("ix_medications_name_id", table_name="medications")
    op.drop_table("medications")
