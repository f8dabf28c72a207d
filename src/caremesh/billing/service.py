"""service of billing."""
