"""Patient: read and search (name, birthdate, identifier), the JSON API's patient scoping, audited reads."""

from __future__ import annotations

import pytest

from tests.builders.patients import make_patient
from tests.fhir.fhir_client import FHIR, assert_outcome, audited, read, resources, search, search_all

ADDRESS = {
    "line1": "12 MG Road",
    "line2": "Flat 3",
    "city": "Pune",
    "state": "MH",
    "postal_code": "411001",
    "country": "IN",
}


async def test_a_patient_reads_as_a_valid_fhir_patient(env):
    patient = await make_patient(env, first_name="Meera", last_name="Iyer", gender="female", address=ADDRESS)

    resource = await read(env, f"Patient/{patient['id']}")

    assert resource["id"] == patient["id"]
    assert resource["identifier"] == [
        {"use": "official", "system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{patient['id']}"}
    ]
    assert resource["name"] == [{"use": "official", "family": "Iyer", "given": ["Meera"]}]
    assert (resource["gender"], resource["birthDate"]) == ("female", "1985-04-12")
    assert resource["telecom"] == [
        {"system": "phone", "value": patient["phone"]},
        {"system": "email", "value": patient["email"]},
    ]
    assert resource["address"] == [
        {
            "use": "home",
            "line": ["12 MG Road", "Flat 3"],
            "city": "Pune",
            "state": "MH",
            "postalCode": "411001",
            "country": "IN",
        }
    ]


async def test_search_by_name_birthdate_and_identifier(env):
    meera = await make_patient(env, first_name="Meera", last_name="Kulkarni", date_of_birth="1990-02-03")
    await make_patient(env, first_name="Ravi", last_name="Kulkarni", date_of_birth="1970-01-01")

    by_name = resources(await search(env, "Patient", name="kulkarni"))
    by_both = resources(await search(env, "Patient", name="Kulkarni", birthdate="1990-02-03"))
    by_eq = resources(await search(env, "Patient", birthdate="eq1990-02-03"))
    by_identifier = resources(await search(env, "Patient", identifier=f"urn:ietf:rfc:3986|urn:uuid:{meera['id']}"))
    bare_identifier = resources(await search(env, "Patient", identifier=f"urn:uuid:{meera['id']}"))
    other_system = resources(await search(env, "Patient", identifier=f"http://example.org/mrn|{meera['id']}"))

    assert len(by_name) == 2
    assert [p["id"] for p in by_both] == [p["id"] for p in by_eq] == [meera["id"]]
    assert [p["id"] for p in by_identifier] == [p["id"] for p in bare_identifier] == [meera["id"]]
    assert other_system == []


async def test_search_pages_through_every_match_following_next(env):
    made = [await make_patient(env, last_name=f"Deshpande{i}") for i in range(5)]

    found, pages = await search_all(env, "Patient", name="Deshpande", _count=2)

    assert pages == 3
    assert sorted(p["id"] for p in found) == sorted(p["id"] for p in made)  # each once


@pytest.fixture
async def me_and_other(env):
    mine, other = await make_patient(env), await make_patient(env)
    headers = await env.user(roles=["patient"], patient_id=mine["id"])
    return env, headers, mine, other


async def test_a_patient_reads_only_their_own_record(me_and_other):
    env, headers, mine, other = me_and_other

    assert (await read(env, f"Patient/{mine['id']}", headers))["id"] == mine["id"]
    response = await env.client.get(f"{FHIR}/Patient/{other['id']}", headers=headers)
    assert_outcome(response, 404, "not-found", "PATIENT_NOT_FOUND")  # as the JSON API: existence not disclosed
    assert other["last_name"] not in response.text
    assert [p["id"] for p in resources(await search(env, "Patient", headers))] == [mine["id"]]
    assert resources(await search(env, "Patient", headers, name=other["last_name"])) == []


async def test_reads_and_searches_are_audited_as_the_json_apis_are(env):
    patient = await make_patient(env, last_name="Audited")

    await read(env, f"Patient/{patient['id']}")
    await search(env, "Patient", name="Audited")

    assert await audited(env, "patient.read", patient["id"]) == 1
    assert await audited(env, "patient.list_read", patient["id"]) == 1
