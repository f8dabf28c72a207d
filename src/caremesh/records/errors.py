"""The errors of medical records; those other contexts raise too are exported by its contract."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, NotFound, Unprocessable


class MedicalRecordNotFound(NotFound):
    code, title = "MEDICAL_RECORD_NOT_FOUND", "Medical record not found"


class MedicalRecordIsRetracted(Conflict):
    code, title = "MEDICAL_RECORD_RETRACTED", "The entry was retracted (entered in error)"


class AppointmentOfAnotherPatient(Unprocessable):
    code, title = "APPOINTMENT_OF_ANOTHER_PATIENT", "The appointment is another patient's"
