"""Condition, AllergyIntolerance and Observation (vital signs): read and search, ICD-10-CM and LOINC codes, the
records context's per-type permissions and patient scoping, audited reads."""

from __future__ import annotations

import uuid

import pytest

from caremesh.fhir.clinical import MEASURES, entry_and_measure, observation_id
from caremesh.records.domain import MEASURES as RECORDED_MEASURES
from tests.builders.patients import make_patient
from tests.builders.records import RECORDS, allergy, diagnosis, make_record, vital_signs
from tests.fhir.fhir_client import FHIR, assert_outcome, audited, read, resources, search, search_all

ICD_10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def test_every_recorded_measure_is_an_observation_with_an_id_that_reads_back():
    assert sorted(column for measure in MEASURES for column in measure.columns) == sorted(RECORDED_MEASURES)
    record_id = uuid.uuid4()
    ids = {observation_id(record_id, measure) for measure in MEASURES}
    assert len(ids) == len(MEASURES)
    assert record_id not in ids
    assert all(entry_and_measure(observation_id(record_id, m)) == (record_id, m) for m in MEASURES)
    assert entry_and_measure(record_id) is None  # the entry's own id is no Observation


@pytest.fixture
async def charted(env):
    """A patient with a diagnosis (with onset), an allergy and two vital-signs entries; another patient's too."""
    patient, other = await make_patient(env), await make_patient(env)
    made = {
        "diagnosis": await make_record(env, patient["id"], diagnosis(code="E119", onset_date="2029-06-01")),
        "allergy": await make_record(env, patient["id"], allergy()),
        "vitals": await make_record(env, patient["id"], vital_signs()),
        "weighed": await make_record(
            env,
            patient["id"],
            vital_signs(
                heart_rate=None, systolic_bp=None, diastolic_bp=None, temperature_c=None, spo2=None, weight_kg=70.5
            ),
        ),
        "theirs": await make_record(env, other["id"], diagnosis(code="I10")),
    }
    return env, patient, other, made


def observation(record: dict, column: str) -> str:
    [measure] = [m for m in MEASURES if column in m.columns]
    return str(observation_id(uuid.UUID(record["id"]), measure))


async def test_a_diagnosis_reads_as_an_icd_10_cm_condition(charted):
    env, patient, _, made = charted

    resource = await read(env, f"Condition/{made['diagnosis']['id']}")

    assert resource["code"]["coding"] == [
        {"system": ICD_10_CM, "code": "E11.9", "display": "Type 2 diabetes mellitus without complications"}
    ]
    assert resource["clinicalStatus"]["coding"][0]["code"] == "active"
    assert resource["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert resource["category"][0]["coding"][0]["code"] == "problem-list-item"
    assert resource["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert resource["onsetDateTime"] == "2029-06-01"


async def test_conditions_are_searched_by_patient_and_category(charted):
    env, patient, _, made = charted

    mine = resources(await search(env, "Condition", patient=f"Patient/{patient['id']}"))
    listed = resources(await search(env, "Condition", patient=patient["id"], category="problem-list-item"))
    encounter = resources(await search(env, "Condition", patient=patient["id"], category="encounter-diagnosis"))

    assert [c["id"] for c in mine] == [c["id"] for c in listed] == [made["diagnosis"]["id"]]
    assert encounter == []
    assert {c["id"] for c in resources(await search(env, "Condition"))} == {
        made["diagnosis"]["id"],
        made["theirs"]["id"],
    }


async def test_a_retracted_diagnosis_is_entered_in_error_for_staff_and_gone_for_the_patient(charted):
    env, patient, _, made = charted
    record_id = made["diagnosis"]["id"]
    retracted = await env.client.post(f"{RECORDS}/{record_id}/retract", json={"reason": "wrong"}, headers=env.admin)
    assert retracted.status_code == 200, retracted.text

    resource = await read(env, f"Condition/{record_id}")

    assert resource["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in resource
    headers = await env.user(roles=["patient"], patient_id=patient["id"])
    response = await env.client.get(f"{FHIR}/Condition/{record_id}", headers=headers)
    assert_outcome(response, 404, "not-found", "MEDICAL_RECORD_NOT_FOUND")


async def test_an_allergy_reads_with_its_substance_and_reaction(charted):
    env, patient, _, made = charted

    resource = await read(env, f"AllergyIntolerance/{made['allergy']['id']}")

    assert resource["code"] == {"text": "Penicillin"}
    assert resource["patient"] == {"reference": f"Patient/{patient['id']}"}
    assert resource["reaction"] == [{"manifestation": [{"text": "Hives"}], "severity": "moderate"}]
    assert resource["clinicalStatus"]["coding"][0]["code"] == "active"
    found = resources(await search(env, "AllergyIntolerance", patient=patient["id"]))
    assert [a["id"] for a in found] == [made["allergy"]["id"]]


async def test_an_allergy_category_is_refused_not_answered_empty(charted):
    env, patient, *_ = charted

    response = await env.client.get(
        f"{FHIR}/AllergyIntolerance", params={"patient": patient["id"], "category": "medication"}, headers=env.admin
    )

    assert_outcome(response, 400, "invalid", "FHIR_BAD_SEARCH_PARAMETER")


async def test_vital_signs_read_as_loinc_coded_observations_in_ucum(charted):
    env, patient, _, made = charted
    vitals = made["vitals"]

    pressure = await read(env, f"Observation/{observation(vitals, 'systolic_bp')}")
    rate = await read(env, f"Observation/{observation(vitals, 'heart_rate')}")
    oxygen = await read(env, f"Observation/{observation(vitals, 'spo2')}")
    temperature = await read(env, f"Observation/{observation(vitals, 'temperature_c')}")

    assert pressure["code"]["coding"][0]["code"] == "85354-9"
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]) for c in pressure["component"]] == [
        ("8480-6", {"value": 120, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}),
        ("8462-4", {"value": 80, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}),
    ]
    assert "valueQuantity" not in pressure
    assert (rate["code"]["coding"][0], rate["valueQuantity"]["value"], rate["valueQuantity"]["code"]) == (
        {"system": LOINC, "code": "8867-4", "display": "Heart rate"},
        72,
        "/min",
    )
    assert [c["code"] for c in oxygen["code"]["coding"]] == ["2708-6", "59408-5"]
    assert (temperature["valueQuantity"]["value"], temperature["valueQuantity"]["code"]) == (36.8, "Cel")
    for resource in (pressure, rate, oxygen, temperature):
        assert resource["status"] == "final"
        assert resource["category"][0]["coding"][0]["code"] == "vital-signs"
        assert resource["subject"] == {"reference": f"Patient/{patient['id']}"}
        assert resource["effectiveDateTime"] == "2030-01-07T05:30:00Z"
        assert resource["meta"]["profile"][0] == "http://hl7.org/fhir/StructureDefinition/vitalsigns"


async def test_observations_are_searched_by_patient_and_category_over_pages(charted):
    env, patient, _, made = charted
    weight = observation(made["weighed"], "weight_kg")
    others = [observation(made["vitals"], c) for c in ("systolic_bp", "heart_rate", "spo2", "temperature_c")]

    found, pages = await search_all(env, "Observation", patient=patient["id"], category="vital-signs", _count=2)

    ids = [o["id"] for o in found]
    assert (sorted(ids), pages) == (sorted([weight, *others]), 3)  # each once
    assert [i for i in ids if i != weight] == others  # an entry's measures together, in the profile's order
    assert resources(await search(env, "Observation", patient=patient["id"], category="laboratory")) == []
    bad = await env.client.get(f"{FHIR}/Observation", params={"_cursor": "forged"}, headers=env.admin)
    assert_outcome(bad, 400, "invalid")


async def test_an_id_of_another_type_or_an_absent_measure_is_not_found(charted):
    env, _, _, made = charted
    for path in (
        f"Condition/{made['allergy']['id']}",
        f"AllergyIntolerance/{made['diagnosis']['id']}",
        f"Observation/{made['vitals']['id']}",
        f"Observation/{observation(made['vitals'], 'weight_kg')}",  # not measured in that entry
        f"Observation/{observation(made['diagnosis'], 'heart_rate')}",
        f"Condition/{uuid.uuid4()}",
    ):
        response = await env.client.get(f"{FHIR}/{path}", headers=env.admin)
        assert_outcome(response, 404, "not-found")


async def test_a_patient_sees_only_their_own_entries(charted):
    env, patient, other, made = charted
    headers = await env.user(roles=["patient"], patient_id=patient["id"])

    assert (await read(env, f"Condition/{made['diagnosis']['id']}", headers))["id"] == made["diagnosis"]["id"]
    assert_outcome(
        await env.client.get(f"{FHIR}/Condition/{made['theirs']['id']}", headers=headers),
        404,
        "not-found",
        "MEDICAL_RECORD_NOT_FOUND",
    )
    assert [c["id"] for c in resources(await search(env, "Condition", headers))] == [made["diagnosis"]["id"]]
    assert resources(await search(env, "Condition", headers, patient=other["id"])) == []
    assert len(resources(await search(env, "Observation", headers))) == 5


async def test_roles_are_the_records_per_type_permissions(charted):
    env, _, _, made = charted
    clerk = await env.user(roles=["billing_clerk"])  # diagnoses for claims, not vital signs nor allergies

    assert (await read(env, f"Condition/{made['diagnosis']['id']}", clerk))["id"] == made["diagnosis"]["id"]
    for path in (f"Observation/{observation(made['vitals'], 'heart_rate')}", "Observation", "AllergyIntolerance"):
        assert_outcome(await env.client.get(f"{FHIR}/{path}", headers=clerk), 403, "forbidden", "FORBIDDEN")
    nurse = await env.user(roles=["nurse"])
    assert len(resources(await search(env, "AllergyIntolerance", nurse))) == 1


async def test_clinical_reads_are_audited_as_the_records_reads_are(charted):
    env, patient, _, made = charted
    vitals = made["vitals"]

    await read(env, f"Condition/{made['diagnosis']['id']}")
    await read(env, f"AllergyIntolerance/{made['allergy']['id']}")
    await read(env, f"Observation/{observation(vitals, 'heart_rate')}")
    await search(env, "Observation", patient=patient["id"])

    for record in (made["diagnosis"], made["allergy"], vitals):
        assert await audited(env, "medical_record.read", record["id"]) == 1
    assert await audited(env, "medical_record.list_read", vitals["id"]) == 1
