"""FHIR resources of the medical record: Condition (diagnoses), AllergyIntolerance, Observation (vital signs), see
framework.py. All three are entries of the records context, read through its per-type permissions and use cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.observation import Observation

from caremesh.fhir.errors import BadSearchParameter
from caremesh.fhir.framework import (
    Found,
    NothingMatches,
    ResourceType,
    Search,
    SearchParam,
    expanded_page,
    patient_of,
    ref,
    resume_expanded,
    token,
)
from caremesh.platform.uow import UnitOfWork
from caremesh.records import contract as records

ICD_10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
PATIENT = SearchParam("patient", "reference", "The patient: Patient/<id> or <id>")


def category_code(search: Search, system: str, codes: frozenset[str]) -> str | None:
    """The `category` token's code, if given: one of `codes` (another code of `system` matches nothing; a code of
    another system too)."""
    raw = search.get("category")
    if raw is None:
        return None
    given_system, code = token("category", raw)
    if given_system not in (None, system) or code not in codes:
        raise NothingMatches
    return code


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code} | ({"display": display} if display else {})
    return {"coding": [coding]}


def verification(entry: records.ClinicalEntry, kind: str) -> dict[str, Any]:
    """`confirmed`, or `entered-in-error` for a retracted entry (staff still read those; patients do not)."""
    code = "entered-in-error" if entry.status == records.RecordStatus.ENTERED_IN_ERROR else "confirmed"
    return concept(f"{TERMINOLOGY}/{kind}", code)


def retracted(entry: records.ClinicalEntry) -> bool:
    return entry.status == records.RecordStatus.ENTERED_IN_ERROR


# --- Condition ---

CONDITION_CATEGORY = f"{TERMINOLOGY}/condition-category"
PROBLEM_LIST_ITEM = "problem-list-item"


def condition_resource(entry: records.ClinicalEntry) -> Condition:
    """A diagnosis is kept on the patient's list with its clinical status (active, resolved) until amended: a
    problem-list item. Its code is ICD-10-CM, displayed as the code set describes it; the text is the clinician's
    description. A retracted one has no clinical status (FHIR's con-5)."""
    code = concept(ICD_10_CM, entry.code or "", entry.code_display)
    return Condition(
        id=str(entry.id),
        clinicalStatus=None
        if retracted(entry)
        else concept(f"{TERMINOLOGY}/condition-clinical", entry.clinical_status or "active"),
        verificationStatus=verification(entry, "condition-ver-status"),
        category=[concept(CONDITION_CATEGORY, PROBLEM_LIST_ITEM, "Problem List Item")],
        code=code | ({"text": entry.description} if entry.description else {}),
        subject=ref("Patient", entry.patient_id),
        onsetDateTime=entry.onset_date,
        recordedDate=entry.created_at,
    )


async def read_condition(uow: UnitOfWork, record_id: uuid.UUID) -> Condition:
    return condition_resource(await records.read_entry(uow, record_id, records.RecordType.DIAGNOSIS))


async def search_conditions(uow: UnitOfWork, search: Search) -> Found:
    category_code(search, CONDITION_CATEGORY, frozenset({PROBLEM_LIST_ITEM}))
    rows, cursor = await records.search_entries(
        uow, records.RecordType.DIAGNOSIS, patient_id=patient_of(search), **search.page()
    )
    return [condition_resource(row) for row in rows], cursor


CONDITION = ResourceType(
    "Condition",
    "diagnoses:read",
    read_condition,
    search_conditions,
    params=(
        PATIENT,
        SearchParam("category", "token", f"[{CONDITION_CATEGORY}|]{PROBLEM_LIST_ITEM}: every diagnosis is one"),
    ),
)


# --- AllergyIntolerance ---

ALLERGY_CATEGORIES = frozenset({"food", "medication", "environment", "biologic"})


def allergy_resource(entry: records.ClinicalEntry) -> AllergyIntolerance:
    """caremesh records the substance (free text), the reaction and its severity; not the category, type or
    criticality. An allergy stays active until retracted (which leaves no clinical status, FHIR's ait-2)."""
    reaction = {"manifestation": [{"text": entry.reaction or "Not recorded"}], "severity": entry.severity}
    return AllergyIntolerance(
        id=str(entry.id),
        clinicalStatus=None if retracted(entry) else concept(f"{TERMINOLOGY}/allergyintolerance-clinical", "active"),
        verificationStatus=verification(entry, "allergyintolerance-verification"),
        code={"text": entry.substance},
        patient=ref("Patient", entry.patient_id),
        recordedDate=entry.created_at,
        reaction=[reaction],
    )


async def read_allergy(uow: UnitOfWork, record_id: uuid.UUID) -> AllergyIntolerance:
    return allergy_resource(await records.read_entry(uow, record_id, records.RecordType.ALLERGY))


async def search_allergies(uow: UnitOfWork, search: Search) -> Found:
    if search.get("category") is not None:
        # An empty answer would read as "no medication allergies": refuse rather than mislead.
        raise BadSearchParameter(
            "category: caremesh does not record an allergy's category; search without it and read each substance"
        )
    rows, cursor = await records.search_entries(
        uow, records.RecordType.ALLERGY, patient_id=patient_of(search), **search.page()
    )
    return [allergy_resource(row) for row in rows], cursor


ALLERGY_INTOLERANCE = ResourceType(
    "AllergyIntolerance",
    "allergies:read",
    read_allergy,
    search_allergies,
    params=(
        PATIENT,
        SearchParam(
            "category", "token", "Not recorded by caremesh: any value is refused (400) rather than answered partially"
        ),
    ),
)


# --- Observation (vital signs) ---
# The FHIR vital-signs profile (http://hl7.org/fhir/R4/observation-vitalsigns.html) fixes each measure's LOINC code,
# its UCUM unit and its own profile. One caremesh entry holds several measures: each is its own Observation, whose
# id is the entry's id with the UUID version digit (always 4 in an entry's id, uuid4) replaced by the measure's
# digit below, so an Observation is read back without a table of its own. Body mass index is not recorded (it
# would be derived from height and weight), so it is not served.

OBSERVATION_CATEGORY = f"{TERMINOLOGY}/observation-category"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
PROFILE = "http://hl7.org/fhir/StructureDefinition"


@dataclass(frozen=True)
class Measure:
    """A vital sign as the profile codes it, and the records context's column(s) holding it."""

    digit: str  # the hex digit that stands in its Observation id for the entry id's UUID version digit
    code: str  # LOINC
    display: str
    unit: str  # UCUM
    profile: str  # the name of its profile, under PROFILE
    columns: tuple[str, ...]


MEASURES = (
    Measure(
        "8",
        "85354-9",
        "Blood pressure panel with all children optional",
        "mm[Hg]",
        "bp",
        ("systolic_bp", "diastolic_bp"),
    ),
    Measure("1", "8867-4", "Heart rate", "/min", "heartrate", ("heart_rate",)),
    Measure("2", "9279-1", "Respiratory rate", "/min", "resprate", ("respiratory_rate",)),
    Measure("3", "2708-6", "Oxygen saturation in Arterial blood", "%", "oxygensat", ("spo2",)),
    Measure("5", "8310-5", "Body temperature", "Cel", "bodytemp", ("temperature_c",)),
    Measure("6", "8302-2", "Body height", "cm", "bodyheight", ("height_cm",)),
    Measure("7", "29463-7", "Body weight", "kg", "bodyweight", ("weight_kg",)),
)
BY_DIGIT = {measure.digit: measure for measure in MEASURES}
PULSE_OXIMETRY = ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")
BP_COMPONENTS = (
    ("systolic_bp", "8480-6", "Systolic blood pressure"),
    ("diastolic_bp", "8462-4", "Diastolic blood pressure"),
)
OBSERVATION_STATUS = {"current": "final", "amended": "amended", "entered_in_error": "entered-in-error"}
_VERSION_DIGIT = 14  # the index of a UUID's version digit in its text form


def observation_id(record_id: uuid.UUID, measure: Measure) -> uuid.UUID:
    text = str(record_id)
    return uuid.UUID(text[:_VERSION_DIGIT] + measure.digit + text[_VERSION_DIGIT + 1 :])


def entry_and_measure(observation: uuid.UUID) -> tuple[uuid.UUID, Measure] | None:
    text = str(observation)
    measure = BY_DIGIT.get(text[_VERSION_DIGIT])
    if measure is None:
        return None
    return uuid.UUID(text[:_VERSION_DIGIT] + "4" + text[_VERSION_DIGIT + 1 :]), measure


def quantity(value: float | int, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def measured(entry: records.ClinicalEntry) -> list[Measure]:
    """The measures the entry has, in the order above."""
    return [m for m in MEASURES if any(getattr(entry, column) is not None for column in m.columns)]


def observation_resource(entry: records.ClinicalEntry, measure: Measure) -> Observation:
    code = concept(LOINC, measure.code, measure.display)
    if measure.profile == "oxygensat":
        code["coding"].append({"system": LOINC, "code": PULSE_OXIMETRY[0], "display": PULSE_OXIMETRY[1]})
    found: dict[str, Any] = {
        "id": str(observation_id(entry.id, measure)),
        "meta": {"profile": [f"{PROFILE}/vitalsigns", f"{PROFILE}/{measure.profile}"]},
        "status": OBSERVATION_STATUS[entry.status],
        "category": [concept(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")],
        "code": code,
        "subject": ref("Patient", entry.patient_id),
        "effectiveDateTime": entry.measured_at,
        "issued": entry.recorded_at,
    }
    if measure.profile == "bp":  # a panel: both pressures are components, one may be absent
        found["component"] = [
            {"code": concept(LOINC, loinc, display)}
            | (
                {"valueQuantity": quantity(value, measure.unit)}
                if (value := getattr(entry, column)) is not None
                else {"dataAbsentReason": concept(f"{TERMINOLOGY}/data-absent-reason", "not-performed")}
            )
            for column, loinc, display in BP_COMPONENTS
        ]
    else:
        found["valueQuantity"] = quantity(getattr(entry, measure.columns[0]), measure.unit)
    return Observation(**found)


async def read_observation(uow: UnitOfWork, observation: uuid.UUID) -> Observation:
    found = entry_and_measure(observation)
    if found is None:
        raise records.MedicalRecordNotFound()
    record_id, measure = found
    entry = await records.read_entry(uow, record_id, records.RecordType.VITAL_SIGNS)
    if measure not in measured(entry):
        raise records.MedicalRecordNotFound()
    return observation_resource(entry, measure)


async def search_observations(uow: UnitOfWork, search: Search) -> Found:
    """Entries newest first, each entry's measures in the order of MEASURES. A page of `_count` entries has at least
    `_count` Observations: what is left over is the next page's, by skipping as many of the same entries."""
    category_code(search, OBSERVATION_CATEGORY, frozenset({"vital-signs"}))
    inner, skip = resume_expanded(search.cursor)
    rows, next_inner = await records.search_entries(
        uow, records.RecordType.VITAL_SIGNS, patient_id=patient_of(search), limit=search.count, cursor=inner
    )
    found = [observation_resource(row, measure) for row in rows for measure in measured(row)]
    return expanded_page(found, search, inner, skip, next_inner)


OBSERVATION = ResourceType(
    "Observation",
    "vital_signs:read",
    read_observation,
    search_observations,
    params=(PATIENT, SearchParam("category", "token", f"[{OBSERVATION_CATEGORY}|]vital-signs: the only category")),
)

RESOURCES = (CONDITION, ALLERGY_INTOLERANCE, OBSERVATION)
