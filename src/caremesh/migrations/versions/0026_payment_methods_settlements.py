"""Stored payment methods and the daily settlement (issue 16): `payment_methods` (a gateway's token or a UPI handle,
never a card number; soft-deleted), `settlements` (one row per clinic day that had money move or was closed; the
frozen figures of a closed day), and on payments and refunds the `settlement_date` they count on (payments also the
stored method they used).

Payments and refunds completed before this revision count on the clinic day they were created, in the clinic
timezone the migration runs with (CAREMESH_TIMEZONE, as the app). The new columns of the existing tables are added in
place (no table rebuild on SQLite, whose `refunds` references `payments`).

Revision ID: 0026_payment_methods_settlements
Revises: 0025_billing_credit_notes
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from caremesh.migrations.context_schemas import physical_schema
from caremesh.platform.settings import AppSettings

revision: str = "0026_payment_methods_settlements"
down_revision: str | None = "0025_billing_credit_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("deleted_at IS NULL")


def upgrade() -> None:
    schema = physical_schema("payments")
    when = sa.DateTime(timezone=True)
    op.create_table(
        "payment_methods",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("token", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.Column("deleted_at", when, nullable=True),
        sa.CheckConstraint("type IN ('card', 'upi')", name="ck_payment_methods_type_known"),
        sa.CheckConstraint("last4 IS NULL OR length(last4) = 4", name="ck_payment_methods_last4_four_digits"),
        sa.CheckConstraint("type = 'card' OR last4 IS NULL", name="ck_payment_methods_last4_only_cards"),
        sa.PrimaryKeyConstraint("id", name="pk_payment_methods"),
        schema=schema,
    )
    op.create_index(
        "ix_payment_methods_patient_created", "payment_methods", ["patient_id", "created_at", "id"], schema=schema
    )
    op.create_index(
        "uq_payment_methods_live_token",
        "payment_methods",
        ["patient_id", "type", "token"],
        unique=True,
        schema=schema,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )
    op.create_table(
        "settlements",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("figures", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("closed_at", when, nullable=True),
        sa.Column("closed_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_settlements_status_known"),
        sa.CheckConstraint(
            "(status = 'closed') = (figures IS NOT NULL AND closed_at IS NOT NULL AND closed_by IS NOT NULL)",
            name="ck_settlements_frozen_when_closed",
        ),
        sa.PrimaryKeyConstraint("day", name="pk_settlements"),
        schema=schema,
    )

    # No foreign key: SQLite could not drop the column again without rebuilding `payments` (which `refunds`
    # references), and a stored method is never deleted, only marked.
    op.add_column("payments", sa.Column("payment_method_id", sa.Uuid(), nullable=True), schema=schema)
    for table in ("payments", "refunds"):
        op.add_column(table, sa.Column("settlement_date", sa.Date(), nullable=True), schema=schema)
        op.create_index(f"ix_{table}_settlement_date", table, ["settlement_date"], schema=schema)
        _date_completed(schema, table)


def _date_completed(schema: str | None, name: str) -> None:
    """Each completed row's settlement date: the clinic date it was created on."""
    clinic = ZoneInfo(AppSettings().timezone)
    table = sa.table(
        name,
        sa.column("id", sa.Uuid()),
        sa.column("status", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("settlement_date", sa.Date()),
        schema=schema,
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(table.c.id, table.c.created_at).where(table.c.status == "completed")).all()
    dated = [{"row_id": row_id, "day": _aware(created).astimezone(clinic).date()} for row_id, created in rows]
    if dated:
        bind.execute(
            table.update().where(table.c.id == sa.bindparam("row_id")).values(settlement_date=sa.bindparam("day")),
            dated,
        )


def _aware(value: datetime | str) -> datetime:
    """SQLite keeps naive UTC text; PostgreSQL answers an aware datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def downgrade() -> None:
    schema = physical_schema("payments")
    for table in ("refunds", "payments"):
        op.drop_index(f"ix_{table}_settlement_date", table, schema=schema)
        _drop_column(schema, table, "settlement_date")
    _drop_column(schema, "payments", "payment_method_id")
    op.drop_table("settlements", schema=schema)
    op.drop_index("uq_payment_methods_live_token", "payment_methods", schema=schema)
    op.drop_index("ix_payment_methods_patient_created", "payment_methods", schema=schema)
    op.drop_table("payment_methods", schema=schema)


def _drop_column(schema: str | None, table: str, column: str) -> None:
    if schema is None:  # SQLite (3.35+) drops a column in place, its table's CHECK constraints untouched
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column, schema=schema)
