from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, SmallInteger, String, Time, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship, synonym

from caremesh.platform.db import Base, UTCDateTime, new_id


class Specialty(Base):
    """The catalogue of specialties; seeded by the migration."""

    __tablename__ = "specialties"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Practitioner(Base):
    __tablename__ = "practitioners"
    __table_args__ = (
        Index("ix_practitioners_names", "last_name", "first_name"),
        Index("ix_practitioners_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # Unique for ever: a removed practitioner's NPI is not handed to someone else.
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    specialty: Mapped[str] = mapped_column(String(50), ForeignKey("practitioners.specialties.code"), index=True)
    practice_start_date: Mapped[date] = mapped_column(Date)
    # A department of facilities (another context: by id, no foreign key).
    department_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    working_hours: Mapped[list[WorkingHours]] = relationship(
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="(WorkingHours.weekday, WorkingHours.start_time)",
    )

    __mapper_args__ = {"version_id_col": version}


class WorkingHours(Base):
    """One clinic-local weekly window; windows of one weekday never overlap (checked on write)."""

    __tablename__ = "practitioner_working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("start_time < end_time", name="start_before_end"),
    )

    practitioner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("practitioners.practitioners.id", ondelete="CASCADE"), primary_key=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    start_time: Mapped[time] = mapped_column(Time, primary_key=True)
    end_time: Mapped[time] = mapped_column(Time)

    # The names the API gives them (WorkingHoursEntry reads a row by attribute).
    start: Mapped[time] = synonym("start_time")
    end: Mapped[time] = synonym("end_time")
