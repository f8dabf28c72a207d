"""Acting as a FHIR client of caremesh: every answer is application/fhir+json and parses back with fhir.resources
(R4B), which validates it; searches follow the Bundle's next links."""

from __future__ import annotations

from typing import Any

import httpx
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource

from tests.harness import Env

FHIR = "/fhir/R4"
FHIR_JSON = "application/fhir+json"


def validated(response: httpx.Response) -> Resource:
    """The body, parsed and validated as the R4 resource it says it is (a Bundle's entries included)."""
    assert response.headers["content-type"].startswith(FHIR_JSON), response.headers["content-type"]
    body = response.json()
    return get_fhir_model_class(body["resourceType"]).model_validate_json(response.content)


async def read(env: Env, path: str, headers: dict[str, str] | None = None, status: int = 200) -> dict[str, Any]:
    response = await env.client.get(f"{FHIR}/{path}", headers=env.admin if headers is None else headers)
    assert response.status_code == status, response.text
    validated(response)
    return response.json()


async def search(env: Env, path: str, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    """One page: the searchset Bundle."""
    response = await env.client.get(f"{FHIR}/{path}", params=params, headers=env.admin if headers is None else headers)
    assert response.status_code == 200, response.text
    bundle = validated(response)
    assert bundle.type == "searchset"
    return response.json()


def resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle.get("entry", [])]


def next_link(bundle: dict[str, Any]) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


async def search_all(
    env: Env, path: str, headers: dict[str, str] | None = None, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every match, following the next links as a client would (absolute URLs); and how many pages it took."""
    bundle = await search(env, path, headers, **params)
    found, pages = resources(bundle), 1
    while (url := next_link(bundle)) is not None:
        response = await env.client.get(url, headers=env.admin if headers is None else headers)
        assert response.status_code == 200, response.text
        validated(response)
        bundle = response.json()
        found += resources(bundle)
        pages += 1
    return found, pages


def assert_outcome(response: httpx.Response, status: int, issue_code: str, code: str | None = None) -> dict[str, Any]:
    """An OperationOutcome with this status and FHIR issue code (and our stable code in its details)."""
    assert response.status_code == status, response.text
    outcome = validated(response)
    assert outcome.get_resource_type() == "OperationOutcome"
    issue = response.json()["issue"][0]
    assert issue["code"] == issue_code, issue
    if code is not None:
        assert issue["details"]["coding"][0]["code"] == code, issue
    return response.json()


async def audited(env: Env, action: str, entity_id: Any) -> int:
    return await env.count("audit_events", "action = :action AND entity_id = :id", action=action, id=str(entity_id))
