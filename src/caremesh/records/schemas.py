from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import Strict
from caremesh.platform.timeutil import InDateTime, OutDateTime
from caremesh.records.domain import (
    NOTE_MAX_CHARACTERS,
    PROCEDURE_CODE,
    VITAL_BOUNDS,
    ClinicalStatus,
    RecordStatus,
    RecordType,
    Severity,
)

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text500 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
DiagnosisCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=8),
    Field(description="An ICD-10-CM billable code of the bundled code set, with or without its dot (`E11.9`)"),
]
ProcedureCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=PROCEDURE_CODE.pattern),
    Field(description="A CPT or HCPCS level II code: five characters (`99213`, `0001U`, `G0008`)"),
]
NoteText = Annotated[str, Field(min_length=1, max_length=NOTE_MAX_CHARACTERS)]


def _measure(name: str, kind: type) -> object:
    bound = VITAL_BOUNDS[name]
    return Annotated[
        kind | None,
        Field(None, ge=bound.low, le=bound.high, description=f"{bound.unit}, {bound.low:g}–{bound.high:g}"),
    ]


# --- the content of each type (PUT sends one of these; POST adds the patient and the encounter) -----------------


class DiagnosisFields(Strict):
    type: Literal["diagnosis"]
    code: DiagnosisCode
    description: Text500 | None = Field(None, description="Defaults to the code set's description of the code")
    clinical_status: ClinicalStatus
    onset_date: date | None = None


class AllergyFields(Strict):
    type: Literal["allergy"]
    substance: Text200
    reaction: Text500 | None = None
    severity: Severity


class VitalSignsFields(Strict):
    type: Literal["vital_signs"]
    measured_at: InDateTime
    heart_rate: _measure("heart_rate", int) = None  # type: ignore[valid-type]
    systolic_bp: _measure("systolic_bp", int) = None  # type: ignore[valid-type]
    diastolic_bp: _measure("diastolic_bp", int) = None  # type: ignore[valid-type]
    temperature_c: _measure("temperature_c", float) = None  # type: ignore[valid-type]
    respiratory_rate: _measure("respiratory_rate", int) = None  # type: ignore[valid-type]
    spo2: _measure("spo2", int) = None  # type: ignore[valid-type]
    weight_kg: _measure("weight_kg", float) = None  # type: ignore[valid-type]
    height_cm: _measure("height_cm", float) = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _measures(self) -> VitalSignsFields:
        if all(getattr(self, name) is None for name in VITAL_BOUNDS):
            raise ValueError(f"at least one measure: {', '.join(VITAL_BOUNDS)}")
        if self.systolic_bp is not None and self.diastolic_bp is not None and self.diastolic_bp >= self.systolic_bp:
            raise ValueError("diastolic_bp must be below systolic_bp")
        return self


class NoteFields(Strict):
    type: Literal["note"]
    text: NoteText


class ProcedureFields(Strict):
    type: Literal["procedure"]
    code: ProcedureCode
    quantity: int = Field(ge=1, le=999)


class _Entry(BaseModel):
    patient_id: uuid.UUID
    appointment_id: uuid.UUID | None = Field(None, description="The encounter; an appointment of the patient")


class DiagnosisCreate(DiagnosisFields, _Entry):
    pass


class AllergyCreate(AllergyFields, _Entry):
    pass


class VitalSignsCreate(VitalSignsFields, _Entry):
    pass


class NoteCreate(NoteFields, _Entry):
    pass


class ProcedureCreate(ProcedureFields, _Entry):
    pass


MedicalRecordCreate = Annotated[
    DiagnosisCreate | AllergyCreate | VitalSignsCreate | NoteCreate | ProcedureCreate, Field(discriminator="type")
]
MedicalRecordUpdate = Annotated[
    DiagnosisFields | AllergyFields | VitalSignsFields | NoteFields | ProcedureFields, Field(discriminator="type")
]


class RetractionCreate(Strict):
    reason: Text500


@dataclass(frozen=True, kw_only=True)
class MedicalRecordFilters(ListFilters):
    patient_id: uuid.UUID | None = None
    type: RecordType | None = None
    appointment_id: uuid.UUID | None = None


# One read model for every type: the fields of the entry's type are set, the others null. A version of the
# history has the same shape (`status` and `author_id` as that version was written).
class MedicalRecordRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    appointment_id: uuid.UUID | None
    type: RecordType
    status: RecordStatus
    version: int
    author_id: uuid.UUID | None
    recorded_at: OutDateTime
    code: str | None = None
    description: str | None = None
    clinical_status: ClinicalStatus | None = None
    onset_date: date | None = None
    quantity: int | None = None
    substance: str | None = None
    reaction: str | None = None
    severity: Severity | None = None
    measured_at: OutDateTime | None = None
    heart_rate: int | None = None
    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    temperature_c: float | None = None
    respiratory_rate: int | None = None
    spo2: int | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    text: str | None = None
    retraction_reason: str | None = None


class EncounterRead(BaseModel):
    id: uuid.UUID
    number: str
    practitioner_id: uuid.UUID
    specialty: str
    start_at: OutDateTime
    end_at: OutDateTime
    status: str


class ActiveOrderRead(BaseModel):
    id: uuid.UUID
    number: str
    type: str
    status: str
    practitioner_id: uuid.UUID
    created_at: OutDateTime


class ChartPatient(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    date_of_birth: date
    gender: str


class ChartRead(BaseModel):
    patient: ChartPatient
    active_diagnoses: list[MedicalRecordRead]
    allergies: list[MedicalRecordRead]
    latest_vital_signs: MedicalRecordRead | None
    recent_encounters: list[EncounterRead]
    active_orders: list[ActiveOrderRead]
