"""service of payments."""
