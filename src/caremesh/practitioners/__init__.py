"""Practitioners: registration, specialties, weekly working hours, availability, soft deletion."""
