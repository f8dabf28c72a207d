"""Practitioner: read and search by NPI (and name); every staff role and patients read the directory."""

from __future__ import annotations

from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.fhir.fhir_client import FHIR, assert_outcome, read, resources, search, search_all

NPI = "http://hl7.org/fhir/sid/us-npi"


async def test_a_practitioner_reads_with_their_npi_and_specialty(env):
    doctor = await make_practitioner(env, first_name="Kavya", last_name="Menon", specialty="cardiology")

    resource = await read(env, f"Practitioner/{doctor['id']}")

    assert resource["identifier"] == [{"use": "official", "system": NPI, "value": doctor["npi"]}]
    assert resource["name"] == [{"use": "official", "family": "Menon", "given": ["Kavya"]}]
    [qualification] = resource["qualification"]
    assert qualification["code"]["coding"][0]["code"] == "cardiology"
    assert qualification["code"]["coding"][0]["system"] == "https://caremesh.dev/fhir/CodeSystem/specialty"
    assert qualification["code"]["text"]  # the specialty's name
    assert {"system": "email", "value": doctor["email"], "use": "work"} in resource["telecom"]


async def test_search_by_npi_with_or_without_its_system_and_by_name(env):
    doctor = await make_practitioner(env, last_name="Bhatt")
    await make_practitioner(env, last_name="Bhatt")

    by_npi = resources(await search(env, "Practitioner", identifier=f"{NPI}|{doctor['npi']}"))
    bare = resources(await search(env, "Practitioner", identifier=doctor["npi"]))
    other_system = resources(await search(env, "Practitioner", identifier=f"http://example.org|{doctor['npi']}"))
    by_name, pages = await search_all(env, "Practitioner", name="bhatt", _count=1)

    assert [p["id"] for p in by_npi] == [p["id"] for p in bare] == [doctor["id"]]
    assert other_system == []
    assert (len(by_name), pages) == (2, 2)


async def test_a_patient_reads_the_directory_but_an_unknown_practitioner_is_404(env):
    me = await make_patient(env)
    doctor = await make_practitioner(env)
    headers = await env.user(roles=["patient"], patient_id=me["id"])

    assert (await read(env, f"Practitioner/{doctor['id']}", headers))["id"] == doctor["id"]
    removed = await env.client.delete(f"/api/v1/practitioners/{doctor['id']}", headers=env.admin)
    assert removed.status_code == 204, removed.text
    gone = await env.client.get(f"{FHIR}/Practitioner/{doctor['id']}", headers=headers)
    assert_outcome(gone, 404, "not-found", "PRACTITIONER_NOT_FOUND")
