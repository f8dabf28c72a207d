"""What other contexts may use of the FHIR facade: nothing; it is an entrypoint for other systems."""
