"""Audit: the append-only, hash-chained trail of writes, reads of patient data and logins."""
