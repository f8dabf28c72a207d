"""The tables of facilities. Departments refer to their facility and personnel to their department by foreign key
(one context, one schema); practitioners refer to a department by id only (another context)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.facilities.domain import PersonnelKind
from caremesh.platform.db import Base, UTCDateTime, new_id, quoted_list


class Facility(Base):
    __tablename__ = "facilities"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[dict[str, Any]] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (
        # Codes are unique within a facility (two hospitals may each have their CARDIO); lists are in this order.
        UniqueConstraint("facility_id", "code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    facility_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("facilities.facilities.id"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Personnel(Base):
    """A member of staff who is not a practitioner; `user_id` links the login they use, if any (one member each)."""

    __tablename__ = "personnel"
    __table_args__ = (
        CheckConstraint(f"kind IN ({quoted_list(PersonnelKind)})", name="kind_known"),
        Index("ix_personnel_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("facilities.departments.id"), index=True)
    license_number: Mapped[str | None] = mapped_column(String(50))
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    active: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}
