"""contract of notifications."""
