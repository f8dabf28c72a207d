"""Scheduling: appointments, and the database's guarantee that no two non-cancelled appointments
of one practitioner, or of one patient, overlap.

PostgreSQL enforces it with exclusion constraints (btree_gist); SQLite with triggers that abort
with the constraint's name. Intervals are half-open, so back-to-back appointments do not overlap.

Revision ID: 0006_scheduling
Revises: 0005_practitioners
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_scheduling"
down_revision: str | None = "0005_practitioners"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Constraint name -> the column naming the party that cannot be in two places at once.
OVERLAP_CONSTRAINTS = {
    "ex_appointments_practitioner_overlap": "practitioner_id",
    "ex_appointments_patient_overlap": "patient_id",
}


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("specialty", sa.String(length=50), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancellation_reason", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_appointments_ends_after_start")),
        sa.CheckConstraint(
            "status IN ('scheduled', 'checked_in', 'completed', 'cancelled', 'no_show')",
            name=op.f("ck_appointments_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("number", name=op.f("uq_appointments_number")),
    )
    op.create_index("ix_appointments_practitioner_start", "appointments", ["practitioner_id", "start_at"])
    op.create_index("ix_appointments_patient_start", "appointments", ["patient_id", "start_at"])
    op.create_index("ix_appointments_start", "appointments", ["start_at", "id"])

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _create_exclusion_constraints()
    elif dialect == "sqlite":
        _create_overlap_triggers()
    else:
        raise NotImplementedError(f"no overlap constraint for {dialect}")


def _create_exclusion_constraints() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public")
    for name, party in OVERLAP_CONSTRAINTS.items():
        op.execute(
            f"ALTER TABLE appointments ADD CONSTRAINT {name} EXCLUDE USING gist "
            f"({party} WITH =, tstzrange(start_at, end_at, '[)') WITH &&) WHERE (status <> 'cancelled')"
        )


def _create_overlap_triggers() -> None:
    # UTCDateTime stores one fixed-width naive-UTC text format on SQLite, so text order is time order.
    for name, party in OVERLAP_CONSTRAINTS.items():
        op.execute(
            f"CREATE TRIGGER {name}_insert BEFORE INSERT ON appointments "
            f"WHEN NEW.status <> 'cancelled' BEGIN {_abort_on_clash(name, party)} END"
        )
        op.execute(
            f"CREATE TRIGGER {name}_update BEFORE UPDATE OF start_at, end_at, status, {party} ON appointments "
            f"WHEN NEW.status <> 'cancelled' BEGIN {_abort_on_clash(name, party, 'AND other.id <> NEW.id')} END"
        )


def _abort_on_clash(name: str, party: str, also: str = "") -> str:
    return (
        f"SELECT RAISE(ABORT, '{name}') WHERE EXISTS (SELECT 1 FROM appointments AS other "
        f"WHERE other.{party} = NEW.{party} AND other.status <> 'cancelled' "
        f"AND other.start_at < NEW.end_at AND NEW.start_at < other.end_at {also});"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in OVERLAP_CONSTRAINTS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}_insert")
            op.execute(f"DROP TRIGGER IF EXISTS {name}_update")
    op.drop_index("ix_appointments_start", table_name="appointments")
    op.drop_index("ix_appointments_patient_start", table_name="appointments")
    op.drop_index("ix_appointments_practitioner_start", table_name="appointments")
    op.drop_table("appointments")
