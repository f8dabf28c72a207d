"""Patients: registration, demographics, insurance identifiers, soft deletion."""
