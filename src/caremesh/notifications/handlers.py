"""Consumers of other contexts' events."""

from caremesh.platform.messaging.bus import Subscription

SUBSCRIPTIONS: list[Subscription] = []
