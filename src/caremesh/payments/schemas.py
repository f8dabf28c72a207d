"""schemas of payments."""
