"""Use cases of the FHIR facade: read, search and the CapabilityStatement, over the registry of resource types."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.resource import Resource

from caremesh.fhir import domain
from caremesh.fhir.errors import ResourceNotFound
from caremesh.fhir.framework import Found, NothingMatches, ResourceType, Search
from caremesh.fhir.registry import RESOURCES
from caremesh.platform.uow import UnitOfWork


async def read(uow: UnitOfWork, kind: ResourceType, raw_id: str) -> Resource:
    """The resource, if the principal may see it (else 404, as the JSON API answers: existence is not disclosed)."""
    try:
        resource_id = uuid.UUID(raw_id)
    except ValueError:
        raise ResourceNotFound(f"{kind.name}/{raw_id} is not known") from None
    return await kind.read(uow, resource_id)


async def search(uow: UnitOfWork, kind: ResourceType, items: Sequence[tuple[str, str]]) -> Found:
    params, count, cursor = domain.search_query(items, kind.param_names())
    try:
        return await kind.search(uow, Search(params, count, cursor))
    except NothingMatches:
        return [], None


def capabilities(*, base: str, software_version: str, now: datetime) -> CapabilityStatement:
    types = {name: kind.params for name, kind in RESOURCES.items()}
    return domain.capability_statement(types, base=base, software_version=software_version, date=now)
