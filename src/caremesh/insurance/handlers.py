from __future__ import annotations

from caremesh.platform.messaging.bus import Subscription

# Insurance reacts to no other context's events yet.
SUBSCRIPTIONS: list[Subscription] = []
