"""Consumers of other contexts' events: none. Billing learns of payments through its contract, in the same
transaction; the background job that resolves abandoned attempts is in jobs.py."""

from __future__ import annotations

from caremesh.platform.messaging.bus import Subscription

SUBSCRIPTIONS: list[Subscription] = []
