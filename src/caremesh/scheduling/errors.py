"""The errors of scheduling that other contexts raise too (exported by its contract)."""

from __future__ import annotations

from caremesh.platform.errors import NotFound


class AppointmentNotFound(NotFound):
    code, title = "APPOINTMENT_NOT_FOUND", "Appointment not found"
