from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.platform.db import Base, UTCDateTime, new_id


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        Index("ix_patients_names", "last_name", "first_name"),
        Index("ix_patients_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date, index=True)
    gender: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    insurance_bin: Mapped[str | None] = mapped_column(String(6), index=True)
    insurance_pcn: Mapped[str | None] = mapped_column(String(10))
    insurance_member_id: Mapped[str | None] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}

    @property
    def has_insurance(self) -> bool:
        return self.insurance_bin is not None

    @property
    def insurance(self) -> dict[str, str] | None:
        """The insurance identifiers as one value (`bin`, `pcn`, `member_id`), or None when the patient has none."""
        if self.insurance_bin is None:
            return None
        return {"bin": self.insurance_bin, "pcn": self.insurance_pcn, "member_id": self.insurance_member_id}

    @insurance.setter
    def insurance(self, identifiers: Mapping[str, str] | None) -> None:
        identifiers = identifiers or {}
        self.insurance_bin = identifiers.get("bin")
        self.insurance_pcn = identifiers.get("pcn")
        self.insurance_member_id = identifiers.get("member_id")
