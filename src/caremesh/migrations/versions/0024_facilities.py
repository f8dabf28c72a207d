"""Facilities (issue 15): `facilities`, `departments` (codes unique within a facility) and `personnel`, and the
practitioners' `department_id` (a department of facilities, by id: no foreign key across contexts). The first
start after this revision creates the facility from the CAREMESH_CLINIC_* settings (facilities' bootstrap), so an
existing installation keeps working with its one clinic.

On PostgreSQL the tables live in the `facilities` schema with the context's own messaging tables.

Revision ID: 0024_facilities
Revises: 0021_medical_records
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from caremesh.migrations.context_schemas import create_context_schema, drop_context_schema, physical_schema

revision: str = "0024_facilities"
down_revision: str | None = "0023_imaging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Fixed here (a migration must not read today's models).
KINDS = (
    "nurse",
    "pharmacist",
    "lab_technician",
    "radiologist",
    "receptionist",
    "billing_clerk",
    "administrator",
    "other",
)


def _qualified(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def upgrade() -> None:
    schema = create_context_schema("facilities")
    when = sa.DateTime(timezone=True)
    op.create_table(
        "facilities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_facilities"),
        sa.UniqueConstraint("code", name="uq_facilities_code"),
        schema=schema,
    )
    op.create_table(
        "departments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("facility_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], [_qualified(schema, "facilities.id")], name="fk_departments_facility_id_facilities"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_departments"),
        sa.UniqueConstraint("facility_id", "code", name="uq_departments_facility_id_code"),
        schema=schema,
    )
    kinds = ", ".join(f"'{kind}'" for kind in KINDS)
    op.create_table(
        "personnel",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=True),
        sa.Column("license_number", sa.String(length=50), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.CheckConstraint(f"kind IN ({kinds})", name="ck_personnel_kind_known"),
        sa.ForeignKeyConstraint(
            ["department_id"], [_qualified(schema, "departments.id")], name="fk_personnel_department_id_departments"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_personnel"),
        sa.UniqueConstraint("user_id", name="uq_personnel_user_id"),
        schema=schema,
    )
    op.create_index("ix_personnel_department_id", "personnel", ["department_id"], schema=schema)
    op.create_index("ix_personnel_created", "personnel", ["created_at", "id"], schema=schema)

    practitioners = physical_schema("practitioners")
    with op.batch_alter_table("practitioners", schema=practitioners) as table:
        table.add_column(sa.Column("department_id", sa.Uuid(), nullable=True))
    op.create_index("ix_practitioners_department_id", "practitioners", ["department_id"], schema=practitioners)


def downgrade() -> None:
    practitioners = physical_schema("practitioners")
    op.drop_index("ix_practitioners_department_id", "practitioners", schema=practitioners)
    with op.batch_alter_table("practitioners", schema=practitioners) as table:
        table.drop_column("department_id")
    schema = physical_schema("facilities")
    for table, indexes in (
        ("personnel", ("ix_personnel_created", "ix_personnel_department_id")),
        ("departments", ()),
        ("facilities", ()),
    ):
        for index in indexes:
            op.drop_index(index, table, schema=schema)
        op.drop_table(table, schema=schema)
    drop_context_schema("facilities")
