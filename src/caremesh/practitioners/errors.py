"""The errors of practitioners; those other contexts raise too are exported by its contract."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, NotFound


class PractitionerNotFound(NotFound):
    code, title = "PRACTITIONER_NOT_FOUND", "Practitioner not found"


class DuplicateNpi(Conflict):
    code, title = "DUPLICATE_NPI", "A practitioner with this NPI is already registered"


class PractitionerHasAppointments(Conflict):
    code, title = "PRACTITIONER_HAS_APPOINTMENTS", "The practitioner has appointments"
