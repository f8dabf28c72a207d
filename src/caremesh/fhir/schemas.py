"""The FHIR facade's shapes are the fhir.resources (R4B) models; see framework.py and the group modules."""
