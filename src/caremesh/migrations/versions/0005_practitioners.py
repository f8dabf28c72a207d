"""Practitioners: the specialty catalogue (seeded), practitioners and their weekly working hours.

Revision ID: 0005_practitioners
Revises: 0004_patients
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_practitioners"
down_revision: str | None = "0004_patients"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPECIALTIES = [
    ("cardiology", "Cardiology"),
    ("dermatology", "Dermatology"),
    ("ent", "Ear, nose and throat"),
    ("general_practice", "General practice"),
    ("gynecology", "Gynecology"),
    ("neurology", "Neurology"),
    ("oncology", "Oncology"),
    ("ophthalmology", "Ophthalmology"),
    ("orthopedics", "Orthopedics"),
    ("pediatrics", "Pediatrics"),
    ("psychiatry", "Psychiatry"),
    ("radiology", "Radiology"),
]


def upgrade() -> None:
    specialties = op.create_table(
        "specialties",
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_specialties")),
    )
    op.bulk_insert(specialties, [{"code": code, "name": name} for code, name in SPECIALTIES])

    op.create_table(
        "practitioners",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("npi", sa.String(length=10), nullable=False),
        sa.Column("specialty", sa.String(length=50), nullable=False),
        sa.Column("practice_start_date", sa.Date(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["specialty"], ["specialties.code"], name=op.f("fk_practitioners_specialty_specialties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioners")),
        sa.UniqueConstraint("npi", name=op.f("uq_practitioners_npi")),
    )
    op.create_index("ix_practitioners_names", "practitioners", ["last_name", "first_name"])
    op.create_index("ix_practitioners_created", "practitioners", ["created_at", "id"])
    op.create_index(op.f("ix_practitioners_specialty"), "practitioners", ["specialty"])

    op.create_table(
        "practitioner_working_hours",
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_practitioner_working_hours_weekday_range")),
        sa.CheckConstraint("start_time < end_time", name=op.f("ck_practitioner_working_hours_start_before_end")),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_practitioner_working_hours_practitioner_id_practitioners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("practitioner_id", "weekday", "start_time", name=op.f("pk_practitioner_working_hours")),
    )


def downgrade() -> None:
    op.drop_table("practitioner_working_hours")
    op.drop_index(op.f("ix_practitioners_specialty"), table_name="practitioners")
    op.drop_index("ix_practitioners_created", table_name="practitioners")
    op.drop_index("ix_practitioners_names", table_name="practitioners")
    op.drop_table("practitioners")
    op.drop_table("specialties")
