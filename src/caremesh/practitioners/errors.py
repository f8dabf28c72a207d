"""The errors of practitioners that other contexts raise too (exported by its contract)."""

from __future__ import annotations

from caremesh.platform.errors import NotFound


class PractitionerNotFound(NotFound):
    code, title = "PRACTITIONER_NOT_FOUND", "Practitioner not found"
