"""schemas of billing."""
