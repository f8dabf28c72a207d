"""Audit consumes no events: every context records its actions through `audit.contract.record`."""

from caremesh.platform.messaging.bus import Subscription

SUBSCRIPTIONS: list[Subscription] = []
