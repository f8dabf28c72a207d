"""Scheduling: appointments, availability, the visit lifecycle."""
