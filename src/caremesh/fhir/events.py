"""The FHIR facade publishes no events: it only reads."""
