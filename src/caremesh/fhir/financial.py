"""FHIR resources of insurance and billing: Coverage, Claim, Invoice (see framework.py)."""

from __future__ import annotations

from caremesh.fhir.framework import ResourceType

RESOURCES: tuple[ResourceType, ...] = ()
