"""Every GET that answers a collection follows API.md's list convention: `{items, next_cursor}` with
`limit` (default 50, max 200) and `cursor` query parameters. New collection endpoints cannot slip past it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from caremesh.app import create_app
from caremesh.platform.settings import DatabaseSettings
from tests.harness import settings_for_tests

# A GET whose path ends in a literal segment (`/orders`, `/orders/{id}/events`) names a collection, one that
# ends in an id names one resource, and any GET answering an array is a collection. These GETs end in a literal
# but answer one thing, each with the reason it keeps its own shape.
NOT_LISTS = {
    "/api/v1/auth/me": "the caller's own user",
    "/api/v1/auth/profile": "the caller's own profile",
    "/api/v1/audit-events/verify": "one verdict over the chain",
    "/api/v1/schemes/{scheme_id}/premium-quote": "one rate for one age",
    "/api/v1/practitioners/{practitioner_id}/availability": "API.md fixes `{slots}` for one day's free slots",
    "/api/v1/accounts-receivable": "a report: aging buckets and totals",
    "/api/v1/reconciliation/report": "a report: totals with matched and unmatched items",
    "/api/v1/claims/{claim_id}/x12": "one 837P document, text/plain",
    "/api/v1/patients/{patient_id}/chart": "API.md fixes the chart's shape: one patient's summary",
    "/api/v1/payments/{payment_id}/receipt": "one payment's receipt, as JSON or a PDF",
    "/api/v1/clinic": "the installation's one clinic: its name, time zone and currency",
}
# Ends in an id, yet carries a collection: the coverages that apply to one member on one day.
SINGLE_ANSWERS = {"/api/v1/coverage/check/{member_id}": "an eligibility answer for one member on one day"}
OPERATIONS = {"/health/live", "/health/ready", "/metrics"}


def openapi() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for_tests(DatabaseSettings(database_url="sqlite+aiosqlite://"), Path(tmp))
        return create_app(settings).openapi()


DOCUMENT = openapi()


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def json_schema_of_200(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    media = content.get("application/json")
    return resolve(media["schema"]) if media and "schema" in media else None


def is_array(schema: dict[str, Any]) -> bool:
    schema = resolve(schema)
    return schema.get("type") == "array" or any(is_array(s) for s in schema.get("anyOf", []))


def is_collection(path: str, operation: dict[str, Any]) -> bool:
    if path in NOT_LISTS or path in SINGLE_ANSWERS or path in OPERATIONS:
        return False
    schema = json_schema_of_200(operation)
    return not path.endswith("}") or (schema is not None and is_array(schema))


def collection_gets() -> list[str]:
    return sorted(path for path, ops in DOCUMENT["paths"].items() if "get" in ops and is_collection(path, ops["get"]))


COLLECTIONS = collection_gets()


def test_the_walk_finds_the_known_lists():
    for path in ("/api/v1/patients", "/api/v1/orders/{order_id}/events", "/api/v1/claims/{claim_id}/history"):
        assert path in COLLECTIONS
    assert len(COLLECTIONS) >= 20


def test_the_exceptions_are_still_routes():
    assert set(NOT_LISTS) | set(SINGLE_ANSWERS) <= set(DOCUMENT["paths"])


@pytest.mark.parametrize("path", COLLECTIONS)
def test_a_collection_answers_items_and_next_cursor(path):
    schema = json_schema_of_200(DOCUMENT["paths"][path]["get"])
    assert schema is not None
    assert schema.get("type") == "object", f"{path} answers a bare {schema.get('type')}"
    properties = schema["properties"]
    assert set(properties) == {"items", "next_cursor"}, f"{path} answers {sorted(properties)}"
    assert set(schema.get("required", [])) >= {"items"}
    assert resolve(properties["items"])["type"] == "array"
    cursor_types = {resolve(s).get("type") for s in properties["next_cursor"].get("anyOf", [properties["next_cursor"]])}
    assert cursor_types == {"string", "null"}


@pytest.mark.parametrize("path", COLLECTIONS)
def test_a_collection_takes_limit_and_cursor(path):
    parameters = {p["name"]: p for p in DOCUMENT["paths"][path]["get"].get("parameters", []) if p["in"] == "query"}
    assert {"limit", "cursor"} <= set(parameters), f"{path} takes {sorted(parameters)}"
    limit = parameters["limit"]["schema"]
    assert (limit.get("default"), limit.get("maximum"), limit.get("minimum")) == (50, 200, 1)
