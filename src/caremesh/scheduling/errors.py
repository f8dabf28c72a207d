"""The errors of scheduling; those other contexts raise too are exported by its contract."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, NotFound


class AppointmentNotFound(NotFound):
    code, title = "APPOINTMENT_NOT_FOUND", "Appointment not found"


class AppointmentConflict(Conflict):
    code, title = "APPOINTMENT_CONFLICT", "The practitioner already has an appointment at that time"


class PatientDoubleBooked(Conflict):
    code, title = "PATIENT_DOUBLE_BOOKED", "The patient already has an appointment at that time"


class InvalidStatusTransition(Conflict):
    code, title = "INVALID_STATUS_TRANSITION", "The appointment's status does not allow this"
