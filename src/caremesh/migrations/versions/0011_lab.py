"""Lab: the test catalogue, bookings per test and day within capacity, lab orders and results.

Revision ID: 0011_lab
Revises: 0010_pharmacy
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from caremesh.platform.db import Money

revision: str = "0011_lab"
down_revision: str | None = "0010_pharmacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def cents(column: str) -> str:
    return f"CAST(ROUND(CAST({column} AS NUMERIC) * 100) AS BIGINT)"


def upgrade() -> None:
    op.create_table(
        "lab_tests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("loinc", sa.String(length=10), nullable=True),
        sa.Column("price", Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("daily_capacity", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"{cents('price')} >= 0", name=op.f("ck_lab_tests_price_not_negative")),
        sa.CheckConstraint("daily_capacity >= 0", name=op.f("ck_lab_tests_daily_capacity_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_tests")),
        sa.UniqueConstraint("code", name=op.f("uq_lab_tests_code")),
    )
    op.create_table(
        "lab_test_days",
        sa.Column("lab_test_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.CheckConstraint("booked >= 0", name=op.f("ck_lab_test_days_booked_not_negative")),
        sa.CheckConstraint("booked <= capacity", name=op.f("ck_lab_test_days_within_capacity")),
        sa.ForeignKeyConstraint(
            ["lab_test_id"], ["lab_tests.id"], name=op.f("fk_lab_test_days_lab_test_id_lab_tests"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("lab_test_id", "day", name=op.f("pk_lab_test_days")),
    )
    op.create_table(
        "lab_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("lab_test_id", sa.Uuid(), nullable=False),
        sa.Column("scheduled_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("order_confirmed", sa.Boolean(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=True),
        sa.Column("resulted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resulted_by", sa.Uuid(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('scheduled', 'resulted', 'cancelled')", name=op.f("ck_lab_orders_status_known")),
        sa.CheckConstraint("position >= 1", name=op.f("ck_lab_orders_position_positive")),
        sa.CheckConstraint(
            "(status = 'resulted') = (results IS NOT NULL AND resulted_at IS NOT NULL)",
            name=op.f("ck_lab_orders_results_iff_resulted"),
        ),
        sa.CheckConstraint(
            "status <> 'resulted' OR order_confirmed", name=op.f("ck_lab_orders_resulted_only_when_confirmed")
        ),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)", name=op.f("ck_lab_orders_cancelled_at_iff_cancelled")
        ),
        sa.ForeignKeyConstraint(["lab_test_id"], ["lab_tests.id"], name=op.f("fk_lab_orders_lab_test_id_lab_tests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_orders")),
        sa.UniqueConstraint("order_id", "position", name=op.f("uq_lab_orders_order_id_position")),
    )
    op.create_index("ix_lab_orders_lab_test_id", "lab_orders", ["lab_test_id"], unique=False)
    op.create_index("ix_lab_orders_patient_created", "lab_orders", ["patient_id", "created_at", "id"], unique=False)
    op.create_index("ix_lab_orders_created", "lab_orders", ["created_at", "id"], unique=False)
    op.create_table(
        "lab_known_orders",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "(closed_at IS NULL) = (close_reason IS NULL)", name=op.f("ck_lab_known_orders_closed_with_reason")
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_lab_known_orders")),
    )


def downgrade() -> None:
    op.drop_table("lab_known_orders")
    op.drop_index("ix_lab_orders_created", table_name="lab_orders")
    op.drop_index("ix_lab_orders_patient_created", table_name="lab_orders")
    op.drop_index("ix_lab_orders_lab_test_id", table_name="lab_orders")
    op.drop_table("lab_orders")
    op.drop_table("lab_test_days")
    op.drop_table("lab_tests")
