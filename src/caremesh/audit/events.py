"""Audit publishes no integration events: it is written synchronously with each change."""
