"""Errors of the FHIR facade; every error under /fhir is answered as an OperationOutcome (api.py)."""

from __future__ import annotations

from caremesh.platform.errors import DomainError, NotFound


class BadSearchParameter(DomainError):
    status, code, title = 400, "FHIR_BAD_SEARCH_PARAMETER", "Search parameter not supported or malformed"


class UnknownResourceType(NotFound):
    code, title = "FHIR_UNKNOWN_RESOURCE_TYPE", "Resource type not supported"


class ResourceNotFound(NotFound):
    code, title = "FHIR_RESOURCE_NOT_FOUND", "Resource not found"


class NotSupported(DomainError):
    status, code, title = 405, "METHOD_NOT_ALLOWED", "Method not allowed"


class ServerError(DomainError):
    status, code, title = 500, "INTERNAL_ERROR", "Internal server error"
