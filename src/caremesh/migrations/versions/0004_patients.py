"""Patients

Revision ID: 0004_patients
Revises: 0003_audit
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_patients"
down_revision: str | None = "0003_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("gender", sa.String(length=10), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address", sa.JSON(), nullable=True),
        sa.Column("insurance_bin", sa.String(length=6), nullable=True),
        sa.Column("insurance_pcn", sa.String(length=10), nullable=True),
        sa.Column("insurance_member_id", sa.String(length=20), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
    )
    op.create_index("ix_patients_created", "patients", ["created_at", "id"], unique=False)
    op.create_index(op.f("ix_patients_date_of_birth"), "patients", ["date_of_birth"], unique=False)
    op.create_index(op.f("ix_patients_insurance_bin"), "patients", ["insurance_bin"], unique=False)
    op.create_index("ix_patients_names", "patients", ["last_name", "first_name"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_patients_names", table_name="patients")
    op.drop_index(op.f("ix_patients_insurance_bin"), table_name="patients")
    op.drop_index(op.f("ix_patients_date_of_birth"), table_name="patients")
    op.drop_index("ix_patients_created", table_name="patients")
    op.drop_table("patients")
