"""service of notifications."""
