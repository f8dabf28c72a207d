"""Transactional outbox, relay, idempotent consumers with retries and a dead-letter table."""
