from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.platform.db import Base, UTCDateTime, new_id

# The overlap constraints live in the migration, per dialect (an exclusion constraint on
# PostgreSQL, triggers on SQLite); these are the names their errors carry.
PRACTITIONER_OVERLAP = "ex_appointments_practitioner_overlap"
PATIENT_OVERLAP = "ex_appointments_patient_overlap"


class Appointment(Base):
    """A booked visit. Patient and practitioner are other contexts' ids, never foreign keys."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_practitioner_start", "practitioner_id", "start_at"),
        Index("ix_appointments_patient_start", "patient_id", "start_at"),
        Index("ix_appointments_start", "start_at", "id"),
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        CheckConstraint(
            "status IN ('scheduled', 'checked_in', 'completed', 'cancelled', 'no_show')", name="status_known"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    # The practitioner's specialty when booked: the metric label and what billing prices.
    specialty: Mapped[str] = mapped_column(String(50))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancellation_reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}
