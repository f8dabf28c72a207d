"""The errors of patients that other contexts raise too (exported by its contract)."""

from __future__ import annotations

from caremesh.platform.errors import NotFound


class PatientNotFound(NotFound):
    code, title = "PATIENT_NOT_FOUND", "Patient not found"
