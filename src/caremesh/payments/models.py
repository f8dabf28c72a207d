"""models of payments."""
