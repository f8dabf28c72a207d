"""Shared kernel: settings, database, messaging, errors, security, observability. No business rules."""
