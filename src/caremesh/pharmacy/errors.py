"""The errors of pharmacy that other contexts raise too (exported by its contract)."""

from __future__ import annotations

from caremesh.platform.errors import NotFound


class MedicationNotFound(NotFound):
    code, title = "MEDICATION_NOT_FOUND", "Medication not found"
