"""FHIR R4 at /fhir/R4: read and search of resources built from the other contexts' data, through their
contracts. The context owns no data; see framework.py for how a resource type is declared."""
