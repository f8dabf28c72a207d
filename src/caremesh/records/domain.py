"""Pure rules of medical records: the vocabularies, the physiological bounds of vital signs, the code sets and
who may read or write which type of entry. No SQLAlchemy."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RecordType(StrEnum):
    DIAGNOSIS = "diagnosis"
    ALLERGY = "allergy"
    VITAL_SIGNS = "vital_signs"
    NOTE = "note"
    PROCEDURE = "procedure"


class RecordStatus(StrEnum):
    CURRENT = "current"  # as first recorded
    AMENDED = "amended"  # changed since; every earlier version stays in the history
    ENTERED_IN_ERROR = "entered_in_error"  # retracted


class ClinicalStatus(StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"


class Severity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


@dataclass(frozen=True)
class Bound:
    low: float
    high: float
    unit: str


# Physiological bounds, inclusive: a value outside is a typing error, not a patient (API.md fixes heart rate,
# SpO2 and temperature; the others are caremesh's, see docs/DECISIONS.md). The CHECK constraints use the same.
VITAL_BOUNDS: dict[str, Bound] = {
    "heart_rate": Bound(20, 300, "beats/min"),
    "systolic_bp": Bound(40, 300, "mmHg"),
    "diastolic_bp": Bound(20, 200, "mmHg"),
    "temperature_c": Bound(30, 45, "°C"),
    "respiratory_rate": Bound(4, 80, "breaths/min"),
    "spo2": Bound(50, 100, "%"),
    "weight_kg": Bound(0.2, 650, "kg"),
    "height_cm": Bound(20, 275, "cm"),
}
MEASURES = tuple(VITAL_BOUNDS)
NOTE_MAX_CHARACTERS = 20_000

# CPT (five digits, or four digits and F/T/U for category II/III and PLA codes) or HCPCS level II (a letter, four
# digits). The five characters are checked; whether a tariff prices the code is billing's business.
PROCEDURE_CODE = re.compile(r"^(?:[0-9]{4}[0-9FTU]|[A-V][0-9]{4})$")


# The permission to read and to write each type (platform/permissions.py grants them to roles).
READ_PERMISSION = {
    RecordType.DIAGNOSIS: "diagnoses:read",
    RecordType.ALLERGY: "allergies:read",
    RecordType.VITAL_SIGNS: "vital_signs:read",
    RecordType.NOTE: "clinical_notes:read",
    RecordType.PROCEDURE: "procedures:read",
}
WRITE_PERMISSION = {
    RecordType.DIAGNOSIS: "diagnoses:write",
    RecordType.ALLERGY: "allergies:write",
    RecordType.VITAL_SIGNS: "vital_signs:write",
    RecordType.NOTE: "clinical_notes:write",
    RecordType.PROCEDURE: "procedures:write",
}
CHART_PERMISSION = "charts:read"


def readable_types(allows: Callable[[str], bool]) -> list[RecordType]:
    """The types whose read permission `allows` grants, in vocabulary order."""
    return [kind for kind in RecordType if allows(READ_PERMISSION[kind])]


@functools.cache
def _icd10cm() -> Any:
    # The package reads its data with a deprecated importlib call; the warning is the package's, not ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm

    return simple_icd_10_cm


def load_code_sets() -> None:
    """Read the ICD-10-CM code set now (about two seconds, once per process) rather than in a request."""
    _icd10cm()


@dataclass(frozen=True)
class Diagnosis:
    code: str  # with its dot, as the code set writes it (`E11.9`)
    description: str


def icd10cm_diagnosis(code: str) -> Diagnosis | None:
    """The ICD-10-CM code (with or without its dot, any case) as the code set writes it, with its description; None
    unless it is a billable code of the bundled code set (a leaf: not a chapter, block or category that has
    subdivisions)."""
    icd = _icd10cm()
    candidate = code.strip().upper()
    if not re.fullmatch(r"[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?", candidate):
        return None
    if not icd.is_valid_item(candidate) or icd.is_chapter_or_block(candidate) or not icd.is_leaf(candidate):
        return None
    dotted = icd.add_dot(candidate)
    return Diagnosis(code=dotted, description=icd.get_description(dotted))
