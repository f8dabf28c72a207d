"""models of billing."""
