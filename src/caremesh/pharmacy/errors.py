"""The errors of pharmacy; those other contexts raise too are exported by its contract."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, NotFound


class MedicationNotFound(NotFound):
    code, title = "MEDICATION_NOT_FOUND", "Medication not found"


class MedicationCodeExists(Conflict):
    code, title = "MEDICATION_CODE_EXISTS", "A medication with this code exists"


class ReservationNotFound(NotFound):
    code, title = "RESERVATION_NOT_FOUND", "Reservation not found"


class ReservationNotDispensable(Conflict):
    code, title = "RESERVATION_NOT_DISPENSABLE", "The reservation cannot be dispensed"
