"""Pure rules of the FHIR facade: the search query (its paging and which parameters it may name), and the shapes
every answer takes: searchset Bundle, OperationOutcome, CapabilityStatement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.resource import Resource

from caremesh.fhir.errors import BadSearchParameter

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
DEFAULT_COUNT = 20
MAX_COUNT = 100
COUNT, CURSOR, FORMAT = "_count", "_cursor", "_format"
JSON_FORMATS = frozenset({"json", "application/json", FHIR_JSON})
# The code of every error, as the JSON API's problem `code`, in the OperationOutcome's details.
PROBLEM_SYSTEM = "https://caremesh.dev/problems"

ParamType = Literal["string", "token", "date", "reference", "number", "quantity", "uri"]


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: ParamType
    documentation: str


def search_query(items: Sequence[tuple[str, str]], known: frozenset[str]) -> tuple[dict[str, str], int, str | None]:
    """The query string of a search → (the type's parameters, page size, cursor). Every parameter is one the type
    declares (no modifiers, no chains), given once, with a value (`_format` may ask for JSON, the only format);
    `_count` is 1 or more, at most MAX_COUNT (more is answered with MAX_COUNT, as FHIR lets a server)."""
    params: dict[str, str] = {}
    for name, value in items:
        if name in params:
            raise BadSearchParameter(f"{name} is given more than once; give each parameter once")
        if name == FORMAT and value in JSON_FORMATS:
            continue  # the only format served
        if name not in known and name not in (COUNT, CURSOR):
            supported = ", ".join(sorted(known)) or "none"
            raise BadSearchParameter(f"{name} is not a search parameter of this type (supported: {supported})")
        if not value:
            raise BadSearchParameter(f"{name} has no value")
        params[name] = value
    raw_count = params.pop(COUNT, str(DEFAULT_COUNT))
    if not raw_count.isdigit() or int(raw_count) < 1:
        raise BadSearchParameter(f"{COUNT} is a whole number from 1 (at most {MAX_COUNT} are answered)")
    return params, min(int(raw_count), MAX_COUNT), params.pop(CURSOR, None)


def searchset(resources: Sequence[Resource], *, base: str, self_url: str, next_url: str | None) -> Bundle:
    """One page of matches; `base` is the server's base URL (…/fhir/R4), from which each entry's fullUrl is made."""
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    entries = [
        {
            "fullUrl": f"{base}/{resource.get_resource_type()}/{resource.id}",
            "resource": resource,
            "search": {"mode": "match"},
        }
        for resource in resources
    ]
    return Bundle(type="searchset", link=links, entry=entries or None)


_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
}


def outcome(status: int, code: str, title: str, detail: str) -> OperationOutcome:
    """An error as an OperationOutcome: the FHIR issue code for the status, our stable code in the details."""
    return OperationOutcome(
        issue=[
            {
                "severity": "error" if status < 500 else "fatal",
                "code": _ISSUE_CODES.get(status, "exception" if status >= 500 else "processing"),
                "details": {"coding": [{"system": PROBLEM_SYSTEM, "code": code, "display": title}], "text": title},
                "diagnostics": detail,
            }
        ]
    )


def capability_statement(
    types: Mapping[str, Sequence[SearchParam]], *, base: str, software_version: str, date: datetime
) -> CapabilityStatement:
    """What this server does: for each type, read and search-type with its parameters, in JSON."""
    resources: list[dict[str, Any]] = [
        {
            "type": name,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "versioning": "no-version",
            "readHistory": False,
            "updateCreate": False,
            "searchParam": [
                {"name": p.name, "type": p.type, "documentation": p.documentation} for p in (*params, *_PAGING)
            ],
        }
        for name, params in types.items()
    ]
    return CapabilityStatement(
        status="active",
        date=date,
        kind="instance",
        software={"name": "caremesh", "version": software_version},
        implementation={"description": "caremesh FHIR R4 API (read and search)", "url": base},
        fhirVersion=FHIR_VERSION,
        format=["json"],
        rest=[
            {
                "mode": "server",
                "documentation": "Read-only. Unknown search parameters are refused (400); paging with _count "
                f"(default {DEFAULT_COUNT}, at most {MAX_COUNT}) and the opaque _cursor of the Bundle's next link.",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ]
                        }
                    ],
                    "description": "Bearer access token of caremesh (POST /api/v1/auth/login); the JSON API's roles "
                    "and patient scoping apply.",
                },
                "resource": resources,
            }
        ],
    )


_PAGING = (
    SearchParam(COUNT, "number", f"Page size: default {DEFAULT_COUNT}, at most {MAX_COUNT}"),
    SearchParam(CURSOR, "string", "Opaque: the position the Bundle's next link carries"),
)
