"""Integration events of patients. Payloads carry ids and contact details, never clinical data."""

PATIENT_REGISTERED = "patient.registered"
PATIENT_UPDATED = "patient.updated"
PATIENT_DELETED = "patient.deleted"
