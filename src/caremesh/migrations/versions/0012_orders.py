"""Orders: clinical orders, their items and the saga's recorded steps.

Revision ID: 0012_orders
Revises: 0011_lab
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_orders"
down_revision: str | None = "0011_lab"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


STEPS = "'placed', 'stock_reserved', 'stock_reservation_failed', 'lab_scheduled', 'lab_scheduling_failed', 'invoiced', 'invoicing_failed', 'confirmed', 'failed', 'timed_out', 'cancelled', 'dispensed', 'resulted', 'completed', 'reservations_released', 'lab_orders_cancelled', 'invoice_voided'"


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("failure_reason", sa.String(length=40), nullable=True),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("type IN ('prescription', 'lab')", name=op.f("ck_orders_type_known")),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'failed', 'cancelled', 'completed')",
            name=op.f("ck_orders_status_known"),
        ),
        sa.CheckConstraint(
            "(status = 'failed') = (failure_reason IS NOT NULL)", name=op.f("ck_orders_failure_reason_iff_failed")
        ),
        sa.CheckConstraint(
            "status NOT IN ('confirmed', 'completed') OR invoice_id IS NOT NULL",
            name=op.f("ck_orders_confirmed_invoiced"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_orders_number")),
    )
    op.create_index("ix_orders_patient_number", "orders", ["patient_id", "number"], unique=False)
    op.create_index("ix_orders_pending_since", "orders", ["status", "created_at"], unique=False)
    op.create_table(
        "order_items",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("medication_id", sa.Uuid(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("dosage", sa.String(length=200), nullable=True),
        sa.Column("lab_test_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "(medication_id IS NOT NULL AND quantity >= 1 AND lab_test_id IS NULL)"
            " OR (lab_test_id IS NOT NULL AND medication_id IS NULL AND quantity IS NULL AND dosage IS NULL)",
            name=op.f("ck_order_items_medication_or_lab_test"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_items_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("order_id", "position", name=op.f("pk_order_items")),
    )
    op.create_table(
        "order_events",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"step IN ({STEPS})", name=op.f("ck_order_events_step_known")),
        sa.CheckConstraint("kind IN ('step', 'compensation')", name=op.f("ck_order_events_kind_known")),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_order_events_seq_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_events_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("order_id", "seq", name=op.f("pk_order_events")),
    )


def downgrade() -> None:
    op.drop_table("order_events")
    op.drop_table("order_items")
    op.drop_index("ix_orders_pending_since", table_name="orders")
    op.drop_index("ix_orders_patient_number", table_name="orders")
    op.drop_table("orders")
