"""Every resource type served under /fhir/R4: the group modules' `RESOURCES`, in the order of GROUPS. The router and
the CapabilityStatement both read RESOURCES, so what is listed is what is served."""

from __future__ import annotations

import importlib

from caremesh.fhir.framework import ResourceType

GROUPS: tuple[str, ...] = ("administrative", "financial", "clinical", "diagnostics", "medications")


def _collect() -> dict[str, ResourceType]:
    found: dict[str, ResourceType] = {}
    for group in GROUPS:
        for resource_type in importlib.import_module(f"caremesh.fhir.{group}").RESOURCES:
            if resource_type.name in found:
                raise RuntimeError(f"FHIR resource type {resource_type.name} is registered twice")
            found[resource_type.name] = resource_type
    return found


RESOURCES: dict[str, ResourceType] = _collect()
