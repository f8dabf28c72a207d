"""The FHIR facade owns no tables (contexts.WITHOUT_TABLES): it reads the other contexts through their contracts."""
