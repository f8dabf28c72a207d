"""Integration events of insurance. Ids are UUID strings, dates `YYYY-MM-DD`, instants RFC 3339 UTC.

coverage.created  {coverage_id, patient_id, scheme_id, payer_id, valid_from, valid_to, created_at}
scheme.suspended  {scheme_id, payer_id, suspended_at}
scheme.activated  {scheme_id, payer_id, activated_at}
"""

COVERAGE_CREATED = "coverage.created"
SCHEME_SUSPENDED = "scheme.suspended"
SCHEME_ACTIVATED = "scheme.activated"
