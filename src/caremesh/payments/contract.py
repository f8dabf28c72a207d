"""contract of payments."""
