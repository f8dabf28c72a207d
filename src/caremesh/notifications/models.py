"""models of notifications."""
