"""Radiology (issue 15): the `imaging` context's tables, shaped as lab's are (platform.capacity): the study
catalogue (`imaging_studies`, with a modality), the day counters (`imaging_study_days`, a CHECK refuses any count
above the capacity a slot was taken under), the imaging orders (`imaging_orders`, one per order item, reported with
findings and an impression) and what imaging knows of each order (`imaging_known_orders`). Orders learn the type
`imaging`: an item may name an `imaging_study_id`, and the saga's log its steps.

On PostgreSQL the tables live in the `imaging` schema (`<CAREMESH_DATABASE_SCHEMA>_imaging` with a prefix), with
the context's own outbox, deliveries, inbox and dead letters, made and given back by `context_schemas` (as 0024
for facilities). SQLite has one file, whose messaging tables exist.

SQLite changes a CHECK only by rebuilding the table, and rebuilding `orders` would cascade to its items and saga
log (foreign keys are on): those rows are kept aside and put back in the same transaction.

The downgrade deletes imaging orders (the orders of type `imaging`, their items and log) before narrowing the
constraints again: without the imaging context nothing could serve them.

Revision ID: 0023_imaging
Revises: 0022_procedure_billing
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from caremesh.migrations.context_schemas import create_context_schema, drop_context_schema, physical_schema
from caremesh.platform.db import Money

revision: str = "0023_imaging"
down_revision: str | None = "0022_procedure_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Fixed here (a migration must not read today's models).
MODALITIES = ("XR", "CT", "MR", "US", "MG", "NM")
OLD_TYPES = ("prescription", "lab")
NEW_TYPES = (*OLD_TYPES, "imaging")
OLD_STEPS = (
    "placed",
    "stock_reserved",
    "stock_reservation_failed",
    "lab_scheduled",
    "lab_scheduling_failed",
    "invoiced",
    "invoicing_failed",
    "confirmed",
    "failed",
    "timed_out",
    "cancelled",
    "dispensed",
    "resulted",
    "completed",
    "reservations_released",
    "lab_orders_cancelled",
    "invoice_voided",
)
NEW_STEPS = (*OLD_STEPS, "imaging_scheduled", "imaging_scheduling_failed", "reported", "imaging_orders_cancelled")
OLD_ITEM = (
    "(medication_id IS NOT NULL AND quantity >= 1 AND lab_test_id IS NULL)"
    " OR (lab_test_id IS NOT NULL AND medication_id IS NULL AND quantity IS NULL AND dosage IS NULL)"
)
NEW_ITEM = (
    "(medication_id IS NOT NULL AND quantity >= 1 AND lab_test_id IS NULL AND imaging_study_id IS NULL)"
    " OR (lab_test_id IS NOT NULL AND medication_id IS NULL AND quantity IS NULL AND dosage IS NULL"
    " AND imaging_study_id IS NULL)"
    " OR (imaging_study_id IS NOT NULL AND medication_id IS NULL AND quantity IS NULL AND dosage IS NULL"
    " AND lab_test_id IS NULL)"
)
ITEM_CHECK, TYPE_CHECK, STEP_CHECK = (
    "ck_order_items_medication_or_lab_test",
    "ck_orders_type_known",
    "ck_order_events_step_known",
)
# The tables whose rows name an order (ON DELETE CASCADE), and their columns before this revision.
KEPT_COLUMNS = {
    "order_items": "order_id, position, medication_id, quantity, dosage, lab_test_id",
    "order_events": "order_id, seq, step, kind, detail, source_event_id, occurred_at",
}
CHILDREN = tuple(KEPT_COLUMNS)


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def upgrade() -> None:
    schema = create_context_schema("imaging")
    _create_tables(schema)
    _orders_checks(types=NEW_TYPES, steps=NEW_STEPS, item=NEW_ITEM, add_column=True)


def downgrade() -> None:
    orders = physical_schema("orders")
    prefix = "" if orders is None else f'"{orders}".'
    op.execute(f"DELETE FROM {prefix}orders WHERE type = 'imaging'")  # their items and log go with them
    _orders_checks(types=OLD_TYPES, steps=OLD_STEPS, item=OLD_ITEM, add_column=False)
    schema = physical_schema("imaging")
    for table in ("imaging_known_orders", "imaging_orders", "imaging_study_days", "imaging_studies"):
        op.drop_table(table, schema=schema)
    drop_context_schema("imaging")


def _create_tables(schema: str | None) -> None:
    when = sa.DateTime(timezone=True)
    studies = f"{schema}.imaging_studies.id" if schema else "imaging_studies.id"
    op.create_table(
        "imaging_studies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.Column("modality", sa.String(length=2), nullable=False),
        sa.Column("price", Money(), nullable=False),
        sa.Column("daily_capacity", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "CAST(ROUND(CAST(price AS NUMERIC) * 100) AS BIGINT) >= 0",
            name=op.f("ck_imaging_studies_price_not_negative"),
        ),
        sa.CheckConstraint("daily_capacity >= 0", name=op.f("ck_imaging_studies_daily_capacity_not_negative")),
        sa.CheckConstraint(f"modality IN ({_quoted(MODALITIES)})", name=op.f("ck_imaging_studies_modality_known")),
        sa.PrimaryKeyConstraint("id", name="pk_imaging_studies"),
        sa.UniqueConstraint("code", name="uq_imaging_studies_code"),
        schema=schema,
    )
    op.create_table(
        "imaging_study_days",
        sa.Column("imaging_study_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.CheckConstraint("booked >= 0", name=op.f("ck_imaging_study_days_booked_not_negative")),
        sa.CheckConstraint("booked <= capacity", name=op.f("ck_imaging_study_days_within_capacity")),
        sa.ForeignKeyConstraint(
            ["imaging_study_id"],
            [studies],
            name="fk_imaging_study_days_imaging_study_id_imaging_studies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("imaging_study_id", "day", name="pk_imaging_study_days"),
        schema=schema,
    )
    reported = "findings IS NOT NULL AND impression IS NOT NULL AND reported_at IS NOT NULL"
    op.create_table(
        "imaging_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("scheduled_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("order_confirmed", sa.Boolean(), nullable=False),
        sa.Column("cancelled_at", when, nullable=True),
        sa.Column("cancel_reason", sa.String(length=40), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.Column("imaging_study_id", sa.Uuid(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=True),
        sa.Column("impression", sa.Text(), nullable=True),
        sa.Column("reported_at", when, nullable=True),
        sa.Column("reported_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "status IN ('scheduled', 'reported', 'cancelled')", name=op.f("ck_imaging_orders_status_known")
        ),
        sa.CheckConstraint("position >= 1", name=op.f("ck_imaging_orders_position_positive")),
        sa.CheckConstraint(f"(status = 'reported') = ({reported})", name=op.f("ck_imaging_orders_report_iff_reported")),
        sa.CheckConstraint(
            "status <> 'reported' OR order_confirmed", name=op.f("ck_imaging_orders_reported_only_when_confirmed")
        ),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)",
            name=op.f("ck_imaging_orders_cancelled_at_iff_cancelled"),
        ),
        sa.ForeignKeyConstraint(
            ["imaging_study_id"], [studies], name="fk_imaging_orders_imaging_study_id_imaging_studies"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_imaging_orders"),
        sa.UniqueConstraint("order_id", "position", name="uq_imaging_orders_order_id_position"),
        schema=schema,
    )
    op.create_index(
        "ix_imaging_orders_patient_created", "imaging_orders", ["patient_id", "created_at", "id"], schema=schema
    )
    op.create_index("ix_imaging_orders_created", "imaging_orders", ["created_at", "id"], schema=schema)
    op.create_index("ix_imaging_orders_imaging_study_id", "imaging_orders", ["imaging_study_id"], schema=schema)
    op.create_table(
        "imaging_known_orders",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("confirmed_at", when, nullable=True),
        sa.Column("closed_at", when, nullable=True),
        sa.Column("close_reason", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "(closed_at IS NULL) = (close_reason IS NULL)", name=op.f("ck_imaging_known_orders_closed_with_reason")
        ),
        sa.PrimaryKeyConstraint("order_id", name="pk_imaging_known_orders"),
        schema=schema,
    )


def _orders_checks(*, types: Sequence[str], steps: Sequence[str], item: str, add_column: bool) -> None:
    """Orders' CHECKs for these types, steps and items; with `add_column` the items' `imaging_study_id` is added
    first, without it dropped last."""
    schema = physical_schema("orders")
    if schema is not None:
        table = f'"{schema}".'
        column = "ADD COLUMN imaging_study_id UUID, " if add_column else ""
        op.execute(
            f"ALTER TABLE {table}orders DROP CONSTRAINT {TYPE_CHECK},"
            f" ADD CONSTRAINT {TYPE_CHECK} CHECK (type IN ({_quoted(types)}))"
        )
        op.execute(
            f"ALTER TABLE {table}order_items {column}DROP CONSTRAINT {ITEM_CHECK},"
            f" ADD CONSTRAINT {ITEM_CHECK} CHECK ({item})"
        )
        if not add_column:
            op.execute(f"ALTER TABLE {table}order_items DROP COLUMN imaging_study_id")
        op.execute(
            f"ALTER TABLE {table}order_events DROP CONSTRAINT {STEP_CHECK},"
            f" ADD CONSTRAINT {STEP_CHECK} CHECK (step IN ({_quoted(steps)}))"
        )
        return
    # SQLite rebuilds each table; the children's rows are kept aside while `orders` is rebuilt.
    for child in CHILDREN:
        op.execute(f"CREATE TEMPORARY TABLE kept_{child} AS SELECT * FROM {child}")
        op.execute(f"DELETE FROM {child}")
    with op.batch_alter_table("orders", recreate="always") as batch:
        batch.drop_constraint(op.f(TYPE_CHECK), type_="check")
        batch.create_check_constraint(op.f(TYPE_CHECK), sa.text(f"type IN ({_quoted(types)})"))
    with op.batch_alter_table("order_items", recreate="always") as batch:
        if add_column:
            batch.add_column(sa.Column("imaging_study_id", sa.Uuid(), nullable=True))
        batch.drop_constraint(op.f(ITEM_CHECK), type_="check")
        batch.create_check_constraint(op.f(ITEM_CHECK), sa.text(item))
    with op.batch_alter_table("order_events", recreate="always") as batch:
        batch.drop_constraint(op.f(STEP_CHECK), type_="check")
        batch.create_check_constraint(op.f(STEP_CHECK), sa.text(f"step IN ({_quoted(steps)})"))
    for child in CHILDREN:
        columns = KEPT_COLUMNS[child]
        op.execute(f"INSERT INTO {child} ({columns}) SELECT {columns} FROM kept_{child}")
        op.execute(f"DROP TABLE kept_{child}")
    if not add_column:
        with op.batch_alter_table("order_items", recreate="always") as batch:
            batch.drop_column("imaging_study_id")
