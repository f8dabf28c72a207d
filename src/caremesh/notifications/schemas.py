"""schemas of notifications."""
