"""events of notifications."""
