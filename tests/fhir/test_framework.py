"""What every FHIR resource type shares: the CapabilityStatement, errors as OperationOutcomes, paging rules."""

from __future__ import annotations

import uuid

import pytest

from caremesh.fhir import service
from caremesh.fhir.registry import RESOURCES
from tests.builders.patients import make_patient
from tests.fhir.fhir_client import FHIR, assert_outcome, next_link, resources, search, validated


async def test_the_capability_statement_lists_every_registered_type_and_its_search_parameters_without_a_token(env):
    response = await env.client.get(f"{FHIR}/metadata")

    assert response.status_code == 200
    statement = validated(response)
    assert (statement.fhirVersion, statement.kind, statement.format) == ("4.0.1", "instance", ["json"])
    listed = {r.type: r for r in statement.rest[0].resource}
    assert list(listed) == list(RESOURCES)
    assert {"Patient", "Practitioner", "Appointment", "Coverage", "Claim", "Invoice"} <= set(listed)
    for name, kind in RESOURCES.items():
        params = {p.name: p.type for p in listed[name].searchParam}
        assert params == {**{p.name: p.type for p in kind.params}, "_count": "number", "_cursor": "string"}
        assert [i.code for i in listed[name].interaction] == ["read", "search-type"]
    assert response.headers["cache-control"] == "no-store"


async def test_without_a_token_a_read_or_search_is_a_401_outcome(env):
    patient = await make_patient(env)

    for path in ("Patient", f"Patient/{patient['id']}"):
        response = await env.client.get(f"{FHIR}/{path}")
        assert_outcome(response, 401, "login", "UNAUTHENTICATED")
        assert response.headers["www-authenticate"] == "Bearer"
    bad_token = await env.client.get(f"{FHIR}/Patient", headers={"Authorization": "Bearer nonsense"})
    assert_outcome(bad_token, 401, "login")


async def test_an_unknown_type_or_id_is_a_404_outcome(env):
    assert_outcome(
        await env.client.get(f"{FHIR}/Spaceship", headers=env.admin), 404, "not-found", "FHIR_UNKNOWN_RESOURCE_TYPE"
    )
    assert_outcome(await env.client.get(f"{FHIR}/Spaceship/1", headers=env.admin), 404, "not-found")
    unknown = await env.client.get(f"{FHIR}/Patient/{uuid.uuid4()}", headers=env.admin)
    assert_outcome(unknown, 404, "not-found", "PATIENT_NOT_FOUND")
    not_a_uuid = await env.client.get(f"{FHIR}/Patient/abc-1", headers=env.admin)
    assert_outcome(not_a_uuid, 404, "not-found", "FHIR_RESOURCE_NOT_FOUND")
    assert_outcome(await env.client.get(f"{FHIR}/Patient/{uuid.uuid4()}/_history", headers=env.admin), 404, "not-found")


async def test_the_server_is_read_only(env):
    response = await env.client.post(f"{FHIR}/Patient", json={"resourceType": "Patient"}, headers=env.admin)

    assert_outcome(response, 405, "not-supported")
    assert response.headers["allow"] == "GET"


async def test_an_unexpected_failure_is_a_500_outcome_that_keeps_its_cause_to_the_log(
    env, monkeypatch: pytest.MonkeyPatch
):
    patient = await make_patient(env)

    async def broken(*_: object) -> None:
        raise RuntimeError("connection string of a broken adapter")

    monkeypatch.setattr(service, "read", broken)
    response = await env.client.get(f"{FHIR}/Patient/{patient['id']}", headers=env.admin)

    assert_outcome(response, 500, "exception", "INTERNAL_ERROR")
    assert response.json()["issue"][0]["severity"] == "fatal"
    assert "connection string" not in response.text
    assert response.headers["x-request-id"]


async def test_unknown_repeated_or_malformed_search_parameters_are_a_400_outcome(env):
    for params in (
        {"nickname": "x"},
        {"name:exact": "Rao"},
        {"_sort": "name"},
        {"birthdate": "1985"},
        {"birthdate": "gt1985-04-12"},
        {"_count": "0"},
        {"_format": "xml"},
        {"_count": "many"},
        {"_cursor": "not-a-cursor-we-issued"},
        {"name": ""},
    ):
        response = await env.client.get(f"{FHIR}/Patient", params=params, headers=env.admin)
        assert_outcome(response, 400, "invalid")
    twice = await env.client.get(f"{FHIR}/Patient?name=a&name=b", headers=env.admin)
    assert_outcome(twice, 400, "invalid", "FHIR_BAD_SEARCH_PARAMETER")


async def test_count_is_capped_and_the_next_link_is_absolute_and_keeps_the_query(env):
    for _ in range(3):
        await make_patient(env, last_name="Paging")

    first = await search(env, "Patient", name="Paging", _count=2)
    capped = await search(env, "Patient", name="Paging", _count=1000, _format="json")

    assert len(resources(first)) == 2
    url = str(next_link(first))
    assert url.startswith(f"http://test{FHIR}/Patient?")
    assert {"name=Paging", "_count=2"} <= set(url.split("?")[1].split("&"))
    assert "_cursor=" in url
    assert {link["relation"] for link in first["link"]} == {"self", "next"}
    assert len(resources(capped)) == 3
    assert next_link(capped) is None
    assert all(e["fullUrl"] == f"http://test{FHIR}/Patient/{e['resource']['id']}" for e in first["entry"])


async def test_a_search_matching_nothing_is_an_empty_bundle(env):
    bundle = await search(env, "Patient", name="Nobody-By-This-Name")

    assert resources(bundle) == []
    assert next_link(bundle) is None


def test_the_gateway_sends_everything_under_the_fhir_base_to_the_process_serving_fhir():
    from caremesh.contexts import CONTEXTS
    from caremesh.gateway import Route, render

    text = render("127.0.0.1:8080", [Route(CONTEXTS, "127.0.0.1:9001"), Route(("fhir",), "127.0.0.1:9002")])

    assert (
        "    location /fhir/R4/ {\n      limit_req zone=api burst=200 nodelay;\n      proxy_pass http://fhir;" in text
    )
    assert (
        "  upstream fhir {\n    server 127.0.0.1:9001 max_fails=1 fail_timeout=5s;\n    server 127.0.0.1:9002" in text
    )
