"""The errors of medical records that other contexts raise too (exported by its contract)."""

from __future__ import annotations

from caremesh.platform.errors import NotFound


class MedicalRecordNotFound(NotFound):
    code, title = "MEDICAL_RECORD_NOT_FOUND", "Medical record not found"
