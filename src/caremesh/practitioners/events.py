"""Integration events of practitioners. Payloads carry ids, names and specialty, no contact details."""

PRACTITIONER_REGISTERED = "practitioner.registered"
PRACTITIONER_UPDATED = "practitioner.updated"
PRACTITIONER_DELETED = "practitioner.deleted"
