"""Idempotency-Keys: one table and one claim/replay mechanism for every operation that honours the header.

`keys` claims, completes, releases and prunes key rows (payments drive it directly across their
transactions); `requests` makes any POST of a TransactionalRoute honour the header in the request's
single unit of work.
"""
