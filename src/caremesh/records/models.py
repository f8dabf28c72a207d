"""The tables of medical records. An entry's versions are rows of `medical_record_versions`, written once and never
changed (a trigger refuses UPDATE and DELETE); `medical_records` holds each entry's current version, its status and
the version number If-Match checks. The patient and the appointment belong to other contexts: ids only."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.platform.db import Base, UTCDateTime, quoted_list
from caremesh.records.domain import (
    MEASURES,
    NOTE_MAX_CHARACTERS,
    VITAL_BOUNDS,
    ClinicalStatus,
    RecordStatus,
    RecordType,
    Severity,
)


def _bound(name: str) -> str:
    bound = VITAL_BOUNDS[name]
    return f"{name} IS NULL OR ({name} >= {bound.low:g} AND {name} <= {bound.high:g})"


def entry_constraints() -> list[CheckConstraint]:
    """What the database refuses of an entry's content, whichever table holds it: the closed vocabularies, each
    type's required fields and the physiological bounds (the same the API refuses with a 422)."""
    any_measure = " OR ".join(f"{name} IS NOT NULL" for name in MEASURES)
    checks = {
        "type_known": f"type IN ({quoted_list(RecordType)})",
        "status_known": f"status IN ({quoted_list(RecordStatus)})",
        "clinical_status_known": f"clinical_status IS NULL OR clinical_status IN ({quoted_list(ClinicalStatus)})",
        "severity_known": f"severity IS NULL OR severity IN ({quoted_list(Severity)})",
        "diagnosis_complete": "type <> 'diagnosis'"
        " OR (code IS NOT NULL AND description IS NOT NULL AND clinical_status IS NOT NULL)",
        "allergy_complete": "type <> 'allergy' OR (substance IS NOT NULL AND severity IS NOT NULL)",
        "vital_signs_complete": f"type <> 'vital_signs' OR (measured_at IS NOT NULL AND ({any_measure}))",
        "note_complete": f"type <> 'note' OR (text IS NOT NULL AND length(text) BETWEEN 1 AND {NOTE_MAX_CHARACTERS})",
        "procedure_complete": "type <> 'procedure' OR (code IS NOT NULL AND length(code) = 5 AND quantity >= 1)",
        "diastolic_below_systolic": "diastolic_bp IS NULL OR systolic_bp IS NULL OR diastolic_bp < systolic_bp",
        "version_positive": "version >= 1",
        **{f"{name}_in_bounds": _bound(name) for name in MEASURES},
    }
    return [CheckConstraint(sql, name=name) for name, sql in checks.items()]


class EntryColumns:
    """An entry's content as one version of it has it; the fields of other types are null."""

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the user who wrote this version
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when this version was written
    # diagnosis (ICD-10-CM) and procedure (CPT/HCPCS)
    code: Mapped[str | None] = mapped_column(String(10))
    description: Mapped[str | None] = mapped_column(String(500))
    clinical_status: Mapped[str | None] = mapped_column(String(10))
    onset_date: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[int | None] = mapped_column(Integer)
    # allergy
    substance: Mapped[str | None] = mapped_column(String(200))
    reaction: Mapped[str | None] = mapped_column(String(500))
    severity: Mapped[str | None] = mapped_column(String(10))
    # vital signs
    measured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heart_rate: Mapped[int | None] = mapped_column(Integer)
    systolic_bp: Mapped[int | None] = mapped_column(Integer)
    diastolic_bp: Mapped[int | None] = mapped_column(Integer)
    temperature_c: Mapped[float | None] = mapped_column(Float)
    respiratory_rate: Mapped[int | None] = mapped_column(Integer)
    spo2: Mapped[int | None] = mapped_column(Integer)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    height_cm: Mapped[float | None] = mapped_column(Float)
    # note
    text: Mapped[str | None] = mapped_column(Text)
    # retraction (entered_in_error)
    retraction_reason: Mapped[str | None] = mapped_column(String(500))


CONTENT = (
    "code",
    "description",
    "clinical_status",
    "onset_date",
    "quantity",
    "substance",
    "reaction",
    "severity",
    "measured_at",
    *MEASURES,
    "text",
)


class MedicalRecord(EntryColumns, Base):
    """An entry as it stands: its current version's content, and when and by whom it was first recorded."""

    __tablename__ = "medical_records"
    __table_args__ = (
        *entry_constraints(),
        CheckConstraint("(status = 'entered_in_error') = (retracted_at IS NOT NULL)", name="retracted_iff_in_error"),
        Index("ix_medical_records_patient_created", "patient_id", "created_at", "id"),
        Index("ix_medical_records_appointment", "appointment_id"),
        Index("ix_medical_records_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retracted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}

    def content(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONTENT}


class MedicalRecordVersion(EntryColumns, Base):
    """One version of an entry, as it was written: the first, each amendment, the retraction. Never changed."""

    __tablename__ = "medical_record_versions"
    __table_args__ = (*entry_constraints(),)

    record_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("records.medical_records.id", ondelete="RESTRICT"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)

    @property
    def id(self) -> uuid.UUID:  # read models name the entry `id`
        return self.record_id
