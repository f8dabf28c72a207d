"""Payments consumes no events: billing learns of payments through its contract, in the same transaction."""

from caremesh.platform.messaging.bus import Subscription

SUBSCRIPTIONS: list[Subscription] = []
