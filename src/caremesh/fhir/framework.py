"""The per-resource interface of the FHIR facade: what a group module declares for each resource type it serves.

A group module (`administrative.py`, `financial.py`, ...) holds the resources of one part of the product. For each
type it declares one `ResourceType` and lists them in its `RESOURCES`; `registry.GROUPS` names the group modules.
The router (one read and one search route per type), the permission check, paging, the Bundle, the
OperationOutcome errors and the CapabilityStatement all come from that registry, so a type registered there is
served and listed with nothing else to wire:

    async def read_patient(uow: UnitOfWork, patient_id: uuid.UUID) -> Patient:
        return patient_resource(await patients.read_patient(uow, patient_id))  # the context's audited read

    async def search_patients(uow: UnitOfWork, search: Search) -> Found:
        rows, cursor = await patients.search_patients(uow, name=search.get("name"), ..., **search.page())
        return [patient_resource(row) for row in rows], cursor

    PATIENT = ResourceType(
        "Patient", "patients:read", read_patient, search_patients,
        params=(SearchParam("name", "string", "Any part of the name"), ...),
    )
    RESOURCES = (PATIENT,)

- `read(uow, id)` answers the resource as a fhir.resources (R4B) model, or raises the context's not-found error
  (any `DomainError` of status 404): the framework renders it as a 404 OperationOutcome. An id that is not a UUID
  never reaches it (404 too).
- `search(uow, search)` answers one page: the resources and the next cursor (the context's own, passed on as is:
  opaque to clients). `search` holds only parameters the type declared, each given once; parse their values with
  `token`, `reference`, `date_eq` below (a malformed value: 400), and raise `NothingMatches` where a well-formed
  value cannot match anything (a reference to another type): the answer is an empty Bundle.
- Both read other contexts only through their `contract.py`, through the same use cases as the JSON API's reads
  (so the same patient scoping and audit), and map to FHIR in pure functions (`x_resource(summary)`) that build the
  fhir.resources model, which validates it.
- `permission` is the JSON API's read permission for the same data (platform/permissions.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.resource import Resource

from caremesh.fhir.domain import SearchParam
from caremesh.fhir.errors import BadSearchParameter
from caremesh.platform.uow import UnitOfWork

__all__ = [
    "Found",
    "NothingMatches",
    "ResourceType",
    "Search",
    "SearchParam",
    "expanded_page",
    "patient_of",
    "resume_expanded",
]

Found = tuple[Sequence[Resource], str | None]


class NothingMatches(Exception):
    """A well-formed search value that cannot match any row: the search answers an empty Bundle."""


@dataclass(frozen=True)
class Search:
    """A search of one type: its parameters (each declared by the type, given once), the page size and cursor."""

    params: Mapping[str, str]
    count: int
    cursor: str | None = None

    def get(self, name: str) -> str | None:
        return self.params.get(name)

    def page(self) -> dict[str, Any]:
        """`limit` and `cursor`, as the contracts' search functions take them."""
        return {"limit": self.count, "cursor": self.cursor}


Reader = Callable[[UnitOfWork, uuid.UUID], Awaitable[Resource]]
Searcher = Callable[[UnitOfWork, Search], Awaitable[Found]]


@dataclass(frozen=True)
class ResourceType:
    name: str  # the FHIR resource type, e.g. "Patient"
    permission: str  # the JSON API's permission to read the same data, e.g. "patients:read"
    read: Reader
    search: Searcher
    params: tuple[SearchParam, ...] = field(default=())

    def param_names(self) -> frozenset[str]:
        return frozenset(param.name for param in self.params)


# --- parsing search values (a malformed one is a 400) ---

_DATE = re.compile(r"^(eq)?(\d{4}-\d{2}-\d{2})$")


def token(name: str, value: str) -> tuple[str | None, str]:
    """`[system|]code` → (system or None, code)."""
    system, bar, code = value.partition("|")
    if not bar:
        return None, value
    if not code:
        raise BadSearchParameter(f"{name}: a token is [system|]code, with a code")
    return system or None, code


def reference(name: str, value: str, resource_type: str) -> uuid.UUID:
    """`Type/id`, or a bare `id`, of `resource_type` → its UUID. Another type, or an id no row can have: nothing
    matches."""
    kind, slash, raw = value.rpartition("/")
    if slash and kind.rsplit("/", 1)[-1] != resource_type:
        raise NothingMatches
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NothingMatches from None


def patient_of(search: Search) -> uuid.UUID | None:
    """The `patient` reference parameter's patient, if given."""
    raw = search.get("patient")
    return None if raw is None else reference("patient", raw, "Patient")


def date_eq(name: str, value: str) -> date:
    """A day, `YYYY-MM-DD` with no prefix or `eq` (other prefixes and partial dates are not supported)."""
    match = _DATE.match(value)
    try:
        if match is None:
            raise ValueError(value)
        return date.fromisoformat(match.group(2))
    except ValueError:
        raise BadSearchParameter(f"{name}: give one day as YYYY-MM-DD (or eqYYYY-MM-DD)") from None


# --- small shapes every group uses ---

# caremesh's own code systems and identifier systems (its codes where no standard one applies).
CAREMESH_SYSTEM = "https://caremesh.dev/fhir"


def ref(resource_type: str, resource_id: uuid.UUID | str, display: str | None = None) -> dict[str, Any]:
    """A relative Reference to a resource this server serves."""
    found: dict[str, Any] = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        found["display"] = display
    return found


def money(amount: Decimal, currency: str) -> dict[str, Any]:
    """FHIR Money: a JSON number, exactly as many decimals as the amount has."""
    return {"value": amount, "currency": currency}


def caremesh_coding(kind: str, code: str, display: str | None = None) -> dict[str, Any]:
    """A Coding in caremesh's code system of `kind` (e.g. `specialty`)."""
    found = {"system": f"{CAREMESH_SYSTEM}/CodeSystem/{kind}", "code": code}
    return found | ({"display": display} if display else {})


def caremesh_identifier(kind: str, value: str) -> dict[str, Any]:
    """An Identifier in caremesh's identifier system of `kind` (e.g. `appointment-number`)."""
    return {"system": f"{CAREMESH_SYSTEM}/sid/{kind}", "value": value}


def uuid_identifier(resource_id: uuid.UUID) -> dict[str, Any]:
    """caremesh's own id of a row as an Identifier (RFC 3986 URN)."""
    return {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{resource_id}"}


def resume_expanded(cursor: str | None) -> tuple[str | None, int]:
    """Where a search whose rows each expand to several resources (an entry's measures, an order's items) resumes:
    the owning context's cursor, and how many resources of that page to skip (`expanded_page` wrote it)."""
    if cursor is None:
        return None, 0
    skip, dot, inner = cursor.partition(".")
    if not dot or not skip.isdigit():
        raise BadSearchParameter("_cursor: not a cursor this server gave; follow the Bundle's next link")
    return inner or None, int(skip)


def expanded_page(
    resources: Sequence[Resource], search: Search, inner: str | None, skip: int, next_inner: str | None
) -> Found:
    """One page of the resources expanded from the owning context's page read at `inner` (`resume_expanded`): what
    is past `_count` is the next page's, by reading the same page again and skipping further."""
    found = list(resources)[skip:]
    if len(found) > search.count:
        return found[: search.count], f"{skip + search.count}.{inner or ''}"
    return found, None if next_inner is None else f"0.{next_inner}"
