"""The errors of patients; those other contexts raise too are exported by its contract."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, NotFound


class PatientNotFound(NotFound):
    code, title = "PATIENT_NOT_FOUND", "Patient not found"


class PatientHasAppointments(Conflict):
    code, title = "PATIENT_HAS_APPOINTMENTS", "The patient has scheduled or checked-in appointments"
